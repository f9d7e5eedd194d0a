package cluster

import (
	"context"
	"errors"
)

// ImageReason says why a cluster's nodes run the image they run.
type ImageReason string

const (
	// ImageFlag: the user named it (--image).
	ImageFlag ImageReason = "flag"
	// ImageDefault: the target's default image (the one its users run,
	// e.g. postgres:15), present on this machine.
	ImageDefault ImageReason = "default"
	// ImageFallback: the target's default image is not on this machine
	// (chaoscheck never pulls), so the nodes run the local image that
	// chaoscheck images build makes from this machine's packages.
	ImageFallback ImageReason = "fallback"
	// ImageBase: no target was named: the runtime's base image.
	ImageBase ImageReason = "base"
)

// ImageChoice is the image a runtime that runs images will start every
// node from, and why: a typed fact, recorded in test.json.
type ImageChoice struct {
	// Ref is the image the nodes run, as named (e.g. "redis:7").
	Ref string
	// ID is its content id (sha256:...).
	ID string
	// Reason says why this image.
	Reason ImageReason
	// Default is the target's default image ("" when it has none).
	Default string
	// Why says in one line why Default is not the one run (for
	// ImageFallback), for stderr and the report; "" otherwise.
	Why string
	// HostPackages are the host packages (name=version) whose binaries a
	// local image's containers run; nil for any other image.
	HostPackages []string
}

// ImageChooser is implemented by runtimes that run container images:
// ChooseImage resolves, before anything is deployed, the image Up will
// start the nodes from.
type ImageChooser interface {
	ChooseImage(ctx context.Context) (ImageChoice, error)
}

// ErrBadImage wraps the errors of an image the user named (--image)
// that cannot be used: not on this machine, or lacking what the
// target's nodes run. It is bad input (exit 254), refused before
// anything is deployed.
var ErrBadImage = errors.New("unusable --image")

// BadImage marks err as the error of an image the user named: its
// message is err's, and it wraps both err and ErrBadImage.
func BadImage(err error) error {
	if err == nil || errors.Is(err, ErrBadImage) {
		return err
	}
	return badImage{err}
}

type badImage struct{ err error }

func (e badImage) Error() string   { return e.err.Error() }
func (e badImage) Unwrap() []error { return []error{e.err, ErrBadImage} }
