// Helper module for the node e2e tests (e2e/node): the programs that run in
// the test images (pause, nodetest) and mkimage, which packs static binaries
// into image tarballs for `ctr images import`.
module github.com/sidecarkit/sidecarkit/e2e/node/tools/images

go 1.26.0

require github.com/google/go-containerregistry v0.22.1

require (
	github.com/klauspost/compress v1.19.2 // indirect
	github.com/opencontainers/go-digest v1.0.0 // indirect
	github.com/opencontainers/image-spec v1.1.1 // indirect
)
