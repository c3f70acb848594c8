module github.com/sidecarkit/sidecarkit

go 1.20
