package main

import (
	"fmt"
	"strings"

	"github.com/sidecarkit/sidecarkit/sidecar"
	"github.com/sidecarkit/sidecarkit/universal"
)

// universalFlags say how the universal pair's twins get the handshake
// runner: already in the sidecar image (--handshake), or copied from a
// small image by an init container (--handshake-image).
type universalFlags struct {
	handshake      string // "/usr/local/bin/sidecarctl handshake"
	handshakeImage string
	imageHandshake string // the runner's command in handshakeImage
	mountPath      string
}

// planner returns the universal planner the flags describe, or nil when
// they describe none (then auto never chooses universal, and universal
// mode fails with an error that names the flags).
func (u *universalFlags) planner() (sidecar.Planner, error) {
	if u.handshake != "" && u.handshakeImage != "" {
		return nil, fmt.Errorf("inject: --handshake and --handshake-image exclude each other: the runner is either in the sidecar image or copied from another")
	}
	p := universal.Planner{MountPath: u.mountPath}
	switch {
	case u.handshake != "":
		p.Handshake = strings.Fields(u.handshake)
	case u.handshakeImage != "":
		p.Copier = &universal.Copier{Image: u.handshakeImage, Handshake: strings.Fields(u.imageHandshake)}
	default:
		return nil, nil
	}
	return p, nil
}
