//go:build linux

package local

// A minimal client of the kernel's netfilter queue (nfnetlink_queue),
// written here because no Go library for it is served to this project
// (github.com/florianl/go-nfqueue and its /v2 are refused by the module
// proxy, and the netlink libraries that are served, vishvananda/netlink
// and jsimonetti/rtnetlink, do not speak NFQUEUE). The protocol is small:
// bind a queue number, set the copy mode and flags, read packet
// messages, answer each with a verdict. Only what the delay shaper needs
// is here.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// nfnetlink_queue constants (linux/netfilter/nfnetlink_queue.h).
const (
	nfnlSubsysQueue = 3

	nfqnlMsgPacket  = 0
	nfqnlMsgVerdict = 1
	nfqnlMsgConfig  = 2

	nfqaPacketHdr  = 1
	nfqaVerdictHdr = 2
	nfqaPayload    = 10

	nfqaCfgCmd         = 1
	nfqaCfgParams      = 2
	nfqaCfgQueueMaxlen = 3
	nfqaCfgMask        = 4
	nfqaCfgFlags       = 5

	nfqnlCfgCmdBind   = 1
	nfqnlCopyPacket   = 2
	nfqaCfgFFailOpen  = 1
	nfqaCfgFGSO       = 4
	nfAccept          = 1
	nlaTypeMask       = 0x3fff
	solNetlink        = 270
	netlinkNoENOBUFS  = 5
	nfqueueCopyRange  = 64 // bytes of each packet copied to us: the IPv4 header is enough
	nfqueueMaxLen     = 65536
	nfqueueRecvBuffer = 8 << 20
)

// nfQueue is one bound netfilter queue. Packets arrive through Read's
// callback; every packet must get a verdict (Accept), or it stays queued
// until the queue is closed (then the kernel drops it... unless the rule
// has --queue-bypass and no one is bound: then new packets pass).
type nfQueue struct {
	num  uint16
	f    *os.File
	fd   int
	mu   sync.Mutex // serialises sends
	seq  uint32
	buf  []byte
	sbuf []byte
}

// openNFQueue binds queue num in the network namespace at nsPath ("":
// the current one). The socket is created on a thread that entered the
// namespace; that thread is discarded afterwards, and the socket stays in
// the namespace it was created in.
func openNFQueue(nsPath string, num uint16) (*nfQueue, error) {
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
				return // the thread stays locked and dies with this goroutine
			}
		} else {
			defer runtime.UnlockOSThread()
		}
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
		ch <- res{fd, err}
	}()
	r := <-ch
	if r.err != nil {
		return nil, fmt.Errorf("nfqueue socket: %w", r.err)
	}
	fd := r.fd
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("nfqueue bind: %w", err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, nfqueueRecvBuffer)
	_ = unix.SetsockoptInt(fd, solNetlink, netlinkNoENOBUFS, 1)
	q := &nfQueue{num: num, fd: fd, buf: make([]byte, 1<<20), sbuf: make([]byte, 64)}
	// Bind the queue (pf AF_INET), then copy mode and flags, each acked.
	cmd := []byte{nfqnlCfgCmdBind, 0, 0, 0}
	binary.BigEndian.PutUint16(cmd[2:], unix.AF_INET)
	if err := q.config(attr(nfqaCfgCmd, cmd)); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("nfqueue %d: bind: %w", num, err)
	}
	params := make([]byte, 5)
	binary.BigEndian.PutUint32(params, nfqueueCopyRange)
	params[4] = nfqnlCopyPacket
	maxlen := be32(nfqueueMaxLen)
	flags := be32(nfqaCfgFFailOpen | nfqaCfgFGSO)
	var msg []byte
	msg = append(msg, attr(nfqaCfgParams, params)...)
	msg = append(msg, attr(nfqaCfgQueueMaxlen, maxlen)...)
	msg = append(msg, attr(nfqaCfgFlags, flags)...)
	msg = append(msg, attr(nfqaCfgMask, flags)...)
	if err := q.config(msg); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("nfqueue %d: configure: %w", num, err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("nfqueue: nonblock: %w", err)
	}
	q.f = os.NewFile(uintptr(fd), fmt.Sprintf("nfqueue-%d", num))
	return q, nil
}

func be32(v uint32) []byte {
	b := make([]byte, 4)
	binary.BigEndian.PutUint32(b, v)
	return b
}

// attr encodes one netlink attribute, padded to 4 bytes.
func attr(typ uint16, data []byte) []byte {
	l := 4 + len(data)
	b := make([]byte, (l+3)&^3)
	binary.NativeEndian.PutUint16(b, uint16(l))
	binary.NativeEndian.PutUint16(b[2:], typ)
	copy(b[4:], data)
	return b
}

// header writes the nlmsghdr and nfgenmsg of a queue message into b.
func (q *nfQueue) header(b []byte, msgType uint16, flags uint16, length int) {
	q.seq++
	binary.NativeEndian.PutUint32(b[0:], uint32(length))
	binary.NativeEndian.PutUint16(b[4:], nfnlSubsysQueue<<8|msgType)
	binary.NativeEndian.PutUint16(b[6:], flags)
	binary.NativeEndian.PutUint32(b[8:], q.seq)
	binary.NativeEndian.PutUint32(b[12:], 0)
	b[16] = unix.AF_UNSPEC
	b[17] = 0 // NFNETLINK_V0
	binary.BigEndian.PutUint16(b[18:], q.num)
}

// config sends a config message with attrs and waits for its ack (the
// socket is still blocking when this is called).
func (q *nfQueue) config(attrs []byte) error {
	b := make([]byte, 20+len(attrs))
	q.header(b, nfqnlMsgConfig, unix.NLM_F_REQUEST|unix.NLM_F_ACK, len(b))
	copy(b[20:], attrs)
	if err := unix.Sendto(q.fd, b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	seq := q.seq
	tv := unix.Timeval{Sec: 5}
	_ = unix.SetsockoptTimeval(q.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	defer func() { _ = unix.SetsockoptTimeval(q.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{}) }()
	for {
		n, _, err := unix.Recvfrom(q.fd, q.buf, 0)
		if err != nil {
			return fmt.Errorf("waiting for ack: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(q.buf[:n])
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if m.Header.Type != unix.NLMSG_ERROR || m.Header.Seq != seq {
				continue // a packet that was already queued: dropped on close
			}
			if len(m.Data) < 4 {
				return errors.New("short netlink error message")
			}
			if e := int32(binary.NativeEndian.Uint32(m.Data)); e != 0 {
				return syscall.Errno(-e)
			}
			return nil
		}
	}
}

// nfPacket is a queued packet: its id (for the verdict) and the start of
// its IPv4 header.
type nfPacket struct {
	ID      uint32
	Payload []byte // valid only during the callback
}

// Read reads packets until the queue is closed or fails, calling fn for
// each one (fn must not keep Payload). It returns nil after Close.
func (q *nfQueue) Read(fn func(nfPacket)) error {
	rc, err := q.f.SyscallConn()
	if err != nil {
		return err
	}
	for {
		var n int
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			n, _, rerr = unix.Recvfrom(int(fd), q.buf, 0)
			return rerr != unix.EAGAIN
		})
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return nil
			}
			return err
		}
		if rerr != nil {
			if rerr == unix.ENOBUFS || rerr == unix.EINTR {
				continue
			}
			return fmt.Errorf("nfqueue read: %w", rerr)
		}
		b := q.buf[:n]
		for len(b) >= unix.NLMSG_HDRLEN {
			l := int(binary.NativeEndian.Uint32(b))
			if l < unix.NLMSG_HDRLEN || l > len(b) {
				break
			}
			typ := binary.NativeEndian.Uint16(b[4:])
			if typ == nfnlSubsysQueue<<8|nfqnlMsgPacket && l >= 20 {
				if p, ok := parsePacket(b[20:l]); ok {
					fn(p)
				}
			}
			b = b[min((l+3)&^3, len(b)):]
		}
	}
}

func parsePacket(b []byte) (nfPacket, bool) {
	var p nfPacket
	haveID := false
	for len(b) >= 4 {
		l := int(binary.NativeEndian.Uint16(b))
		t := binary.NativeEndian.Uint16(b[2:]) & nlaTypeMask
		if l < 4 || l > len(b) {
			break
		}
		data := b[4:l]
		switch t {
		case nfqaPacketHdr:
			if len(data) >= 4 {
				p.ID = binary.BigEndian.Uint32(data)
				haveID = true
			}
		case nfqaPayload:
			p.Payload = data
		}
		b = b[min((l+3)&^3, len(b)):]
	}
	return p, haveID
}

// Accept gives packet id the verdict accept.
func (q *nfQueue) Accept(id uint32) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	b := q.sbuf[:32]
	q.header(b, nfqnlMsgVerdict, unix.NLM_F_REQUEST, 32)
	binary.NativeEndian.PutUint16(b[20:], 12)
	binary.NativeEndian.PutUint16(b[22:], nfqaVerdictHdr)
	binary.BigEndian.PutUint32(b[24:], nfAccept)
	binary.BigEndian.PutUint32(b[28:], id)
	rc, err := q.f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Write(func(fd uintptr) bool {
		serr = unix.Sendto(int(fd), b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
		return serr != unix.EAGAIN
	})
	if err != nil {
		return err
	}
	return serr
}

// Close unbinds the queue (closing the socket): packets still queued are
// dropped by the kernel, and with --queue-bypass new ones pass.
func (q *nfQueue) Close() error { return q.f.Close() }
