package local

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"syscall"
)

// claimSubnet picks the first /24 of 10.77.0.0/16 that no other cluster on
// this machine holds and no interface uses, and holds it with an
// exclusive flock on a lock file in dir until release is called (or the
// process dies: the kernel drops the lock). It lets several test processes
// (go test runs packages in parallel) bring up clusters at once.
func claimSubnet(dir string) (netip.Prefix, func(), error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return netip.Prefix{}, nil, fmt.Errorf("local: lock dir: %w", err)
	}
	base := DefaultSubnet.Addr().As4()
	for n := 0; n < 256; n++ {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{base[0], base[1], byte(n), 0}), 24)
		f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("subnet-%d.lock", n)), os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			return netip.Prefix{}, nil, fmt.Errorf("local: subnet lock: %w", err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				continue
			}
			return netip.Prefix{}, nil, fmt.Errorf("local: subnet lock: %w", err)
		}
		if subnetFree(p) != nil {
			f.Close()
			continue
		}
		return p, func() { f.Close() }, nil
	}
	return netip.Prefix{}, nil, errors.New("local: no free /24 in 10.77.0.0/16 for a new cluster")
}
