//go:build linux

package local

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/chaoscheck/chaoscheck/cluster"
	"golang.org/x/sys/unix"
)

// tcpPair connects a socket in node a's namespace to a listener in node
// b's, both in this process.
func tcpPair(b *testing.B, c *Cluster, a, bn string, port int) (net.Conn, net.Conn) {
	b.Helper()
	lfd, err := socketIn("/run/netns/"+c.Namespace(bn), unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		b.Fatal(err)
	}
	_ = unix.SetsockoptInt(lfd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	if err := unix.Bind(lfd, &unix.SockaddrInet4{Port: port, Addr: c.Addr(bn).As4()}); err != nil {
		b.Fatal(err)
	}
	if err := unix.Listen(lfd, 1); err != nil {
		b.Fatal(err)
	}
	lf := os.NewFile(uintptr(lfd), "listener")
	ln, err := net.FileListener(lf)
	lf.Close()
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	cfd, err := socketIn("/run/netns/"+c.Namespace(a), unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		b.Fatal(err)
	}
	if err := unix.Connect(cfd, &unix.SockaddrInet4{Port: port, Addr: c.Addr(bn).As4()}); err != nil {
		b.Fatal(err)
	}
	cf := os.NewFile(uintptr(cfd), "client")
	cc, err := net.FileConn(cf)
	cf.Close()
	if err != nil {
		b.Fatal(err)
	}
	sc, err := ln.Accept()
	if err != nil {
		b.Fatal(err)
	}
	return cc, sc
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkShaperTCP copies 32 MiB over TCP from n1 to n2, unshaped and
// through the delay shaper (1 ms each way), and reports throughput, the
// packets the shaper handled and this process's CPU time per packet
// (the shaper runs in it; the copy's own cost is in the unshaped run).
//
//	go test ./cluster/local -run '^$' -bench BenchmarkShaperTCP -benchtime 3x
func BenchmarkShaperTCP(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Fatal("needs root")
	}
	c, err := Up(b.Context(), Config{Nodes: 2, Subnet: netip.MustParsePrefix("10.78.43.0/24"), StateDir: b.TempDir(), JournalDir: b.TempDir(), Prefix: RandomPrefix()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Down(b.Context())
	const size = 32 << 20
	buf := make([]byte, 64<<10)
	port := 9100
	for _, delay := range []time.Duration{0, time.Millisecond} {
		b.Run(fmt.Sprintf("delay=%v", delay), func(b *testing.B) {
			if delay > 0 {
				if err := c.Shape(b.Context(), "bench", []cluster.LinkShape{{Delay: delay}}); err != nil {
					b.Fatal(err)
				}
				defer c.Unshape(b.Context(), "bench")
			}
			before := c.ShaperStats()
			cpu0 := cpuTime()
			b.SetBytes(size)
			b.ResetTimer()
			for range b.N {
				port++
				src, dst := tcpPair(b, c, "n1", "n2", port)
				done := make(chan error, 1)
				go func() {
					_, err := io.Copy(io.Discard, dst)
					done <- err
				}()
				for sent := 0; sent < size; sent += len(buf) {
					if _, err := src.Write(buf); err != nil {
						b.Fatal(err)
					}
				}
				src.Close()
				if err := <-done; err != nil {
					b.Fatal(err)
				}
				dst.Close()
			}
			b.StopTimer()
			pk := c.ShaperStats().Queued - before.Queued
			cpu := cpuTime() - cpu0
			b.ReportMetric(float64(pk)/float64(b.N), "pkts/op")
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/op")
			if pk > 0 {
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(pk), "cpu-ns/pkt")
			}
		})
	}
}

// BenchmarkShaperPingPong sends 1-byte messages back and forth between n1
// and n2 over one TCP connection (a request/response workload of small
// packets), unshaped and through the shaper with 100 µs each way, and
// reports round trips per second and this process's CPU time per shaped
// packet.
//
//	go test ./cluster/local -run '^$' -bench BenchmarkShaperPingPong -benchtime 5000x
func BenchmarkShaperPingPong(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Fatal("needs root")
	}
	c, err := Up(b.Context(), Config{Nodes: 2, Subnet: netip.MustParsePrefix("10.78.44.0/24"), StateDir: b.TempDir(), JournalDir: b.TempDir(), Prefix: RandomPrefix()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Down(b.Context())
	port := 9200
	for _, delay := range []time.Duration{0, 100 * time.Microsecond} {
		b.Run(fmt.Sprintf("delay=%v", delay), func(b *testing.B) {
			if delay > 0 {
				if err := c.Shape(b.Context(), "bench", []cluster.LinkShape{{Delay: delay}}); err != nil {
					b.Fatal(err)
				}
				defer c.Unshape(b.Context(), "bench")
			}
			port++
			src, dst := tcpPair(b, c, "n1", "n2", port)
			defer src.Close()
			defer dst.Close()
			go func() {
				one := make([]byte, 1)
				for {
					if _, err := io.ReadFull(dst, one); err != nil {
						return
					}
					if _, err := dst.Write(one); err != nil {
						return
					}
				}
			}()
			one := make([]byte, 1)
			before := c.ShaperStats()
			cpu0 := cpuTime()
			b.ResetTimer()
			for range b.N {
				if _, err := src.Write(one); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(src, one); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			pk := c.ShaperStats().Queued - before.Queued
			cpu := cpuTime() - cpu0
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/rtt")
			if pk > 0 {
				b.ReportMetric(float64(pk)/float64(b.N), "pkts/rtt")
			}
		})
	}
}
