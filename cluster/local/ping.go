//go:build linux

package local

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"syscall"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster"
	"golang.org/x/sys/unix"
)

// socketIn creates a socket in the network namespace at nsPath ("" for
// the current one) on a thread that is discarded afterwards.
func socketIn(nsPath string, domain, typ, proto int) (int, error) {
	type res struct {
		fd  int
		err error
	}
	ch := make(chan res, 1)
	go func() {
		runtime.LockOSThread()
		if nsPath != "" {
			f, err := os.Open(nsPath)
			if err != nil {
				ch <- res{-1, err}
				return
			}
			defer f.Close()
			if _, _, e := syscall.RawSyscall(sysSetns, f.Fd(), syscall.CLONE_NEWNET, 0); e != 0 {
				ch <- res{-1, fmt.Errorf("setns %s: %w", nsPath, e)}
				return
			}
		} else {
			defer runtime.UnlockOSThread()
		}
		fd, err := unix.Socket(domain, typ|unix.SOCK_CLOEXEC, proto)
		ch <- res{fd, err}
	}()
	r := <-ch
	return r.fd, r.err
}

func icmpChecksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}

// pingFrom sends n ICMP echo requests to dst, interval apart, from a raw
// socket in the namespace nsPath, and collects the replies until all have
// come or wait has passed after the last request.
func pingFrom(ctx context.Context, nsPath string, dst netip.Addr, n int, interval, wait time.Duration) (cluster.RTT, error) {
	r := cluster.RTT{Sent: n}
	fd, err := socketIn(nsPath, unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ICMP)
	if err != nil {
		return r, fmt.Errorf("icmp socket: %w", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return r, err
	}
	f := os.NewFile(uintptr(fd), "icmp")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return r, err
	}
	id := uint16(rand.Uint32())
	sent := make([]time.Time, n)
	rtts := make([]time.Duration, 0, n)
	got := make([]bool, n)
	to := &unix.SockaddrInet4{Addr: dst.As4()}
	readDone := make(chan error, 1)
	deadline := time.Now().Add(time.Duration(n)*interval + wait)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := f.SetReadDeadline(deadline); err != nil {
		return r, err
	}
	type reply struct {
		seq int
		at  time.Time
	}
	replies := make(chan reply, n)
	go func() {
		buf := make([]byte, 1500)
		for {
			var m int
			var rerr error
			err := rc.Read(func(fd uintptr) bool {
				m, _, rerr = unix.Recvfrom(int(fd), buf, 0)
				return rerr != unix.EAGAIN
			})
			at := time.Now()
			if err != nil {
				readDone <- err
				return
			}
			if rerr != nil {
				continue
			}
			b := buf[:m]
			if len(b) < 20 {
				continue
			}
			ihl := int(b[0]&0x0f) * 4
			if len(b) < ihl+8 {
				continue
			}
			ic := b[ihl:]
			if ic[0] != 0 || binary.BigEndian.Uint16(ic[4:]) != id {
				continue
			}
			seq := int(binary.BigEndian.Uint16(ic[6:]))
			if seq < n {
				select {
				case replies <- reply{seq, at}:
				default: // a duplicate beyond n answers
				}
			}
		}
	}()
	pkt := make([]byte, 16)
	received := 0
	collect := func(rp reply) {
		if !got[rp.seq] && !sent[rp.seq].IsZero() {
			got[rp.seq] = true
			received++
			rtts = append(rtts, rp.at.Sub(sent[rp.seq]))
		}
	}
	for i := 0; i < n; i++ {
		pkt[0], pkt[1] = 8, 0
		binary.BigEndian.PutUint16(pkt[2:], 0)
		binary.BigEndian.PutUint16(pkt[4:], id)
		binary.BigEndian.PutUint16(pkt[6:], uint16(i))
		binary.BigEndian.PutUint16(pkt[2:], icmpChecksum(pkt))
		sent[i] = time.Now()
		if err := unix.Sendto(fd, pkt, 0, to); err != nil {
			return r, fmt.Errorf("send echo: %w", err)
		}
		t := time.NewTimer(interval)
	drain:
		for {
			select {
			case rp := <-replies:
				collect(rp)
			case <-t.C:
				break drain
			case <-ctx.Done():
				t.Stop()
				return r, ctx.Err()
			}
		}
	}
	for received < n {
		select {
		case rp := <-replies:
			collect(rp)
			continue
		case err := <-readDone:
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				return r, err
			}
		case <-ctx.Done():
			return r, ctx.Err()
		}
		break
	}
	// Replies read before the deadline fired.
	for len(replies) > 0 {
		collect(<-replies)
	}
	r.Received = received
	if received == 0 {
		return r, nil
	}
	slices.Sort(rtts)
	r.Min, r.Max, r.Median = rtts[0], rtts[len(rtts)-1], rtts[len(rtts)/2]
	return r, nil
}
