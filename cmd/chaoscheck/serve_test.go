package main

import (
	"slices"
	"testing"
)

// The server answers to the host it is bound to; bound to all
// interfaces, to every address of the machine.
func TestBoundHosts(t *testing.T) {
	if h, err := boundHosts("192.0.2.7"); err != nil || !slices.Equal(h, []string{"192.0.2.7"}) {
		t.Errorf("bound to 192.0.2.7: %v %v", h, err)
	}
	for _, host := range []string{"", "0.0.0.0", "::"} {
		h, err := boundHosts(host)
		if err != nil || !slices.Contains(h, "127.0.0.1") {
			t.Errorf("bound to %q: %v %v, want this machine's addresses", host, h, err)
		}
	}
}
