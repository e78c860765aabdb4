package gateway

import (
	"encoding/binary"
	"io"
	"net"
	"sync"
)

// yamux frame layout (github.com/hashicorp/yamux, spec.md): a 12-byte
// header — version, type, flags (2), stream ID (4), length (4) — and,
// for a data frame, length bytes of payload.
const (
	frameHeaderSize = 12
	frameTypeData   = 0
	frameVersion    = 0
)

// frameWriter writes a yamux data frame's header and payload to the
// connection in one Write. yamux's send loop writes them one after the
// other (two writes): on the session's TCP connection that is two
// syscalls and two segments (two TLS records over HTTPS) per frame, and
// the peer's reader wakes twice. So a data header with a payload is held
// and written together with the payload, which the send loop writes next;
// every other write (window updates, pings, go-away, headers without a
// payload) goes through at once. Only yamux's send loop writes to the
// connection, one frame at a time, so no lock is needed.
type frameWriter struct {
	io.ReadWriteCloser
	held []byte // a data frame's header, waiting for its payload
	buf  []byte
}

func newFrameWriter(rwc io.ReadWriteCloser) *frameWriter {
	return &frameWriter{ReadWriteCloser: rwc, held: make([]byte, 0, frameHeaderSize)}
}

func (f *frameWriter) Write(p []byte) (int, error) {
	if len(f.held) == 0 {
		if len(p) == frameHeaderSize && p[0] == frameVersion && p[1] == frameTypeData && binary.BigEndian.Uint32(p[8:12]) > 0 {
			f.held = append(f.held, p...)
			return len(p), nil
		}
		return f.ReadWriteCloser.Write(p)
	}
	f.buf = append(append(f.buf[:0], f.held...), p...)
	f.held = f.held[:0]
	n, err := f.ReadWriteCloser.Write(f.buf)
	if cap(f.buf) > 64<<10 {
		f.buf = nil // a large frame's buffer is not kept
	}
	return max(n-frameHeaderSize, 0), err
}

// LocalAddr and RemoteAddr are the connection's, when it has them (yamux
// gives them to its streams).
func (f *frameWriter) LocalAddr() net.Addr  { return connAddr(f.ReadWriteCloser, true) }
func (f *frameWriter) RemoteAddr() net.Addr { return connAddr(f.ReadWriteCloser, false) }

// connAddr is rwc's local or remote address, when it has them.
func connAddr(rwc io.ReadWriteCloser, local bool) net.Addr {
	if a, ok := rwc.(interface{ LocalAddr() net.Addr }); ok && local {
		return a.LocalAddr()
	}
	if a, ok := rwc.(interface{ RemoteAddr() net.Addr }); ok && !local {
		return a.RemoteAddr()
	}
	if local {
		return frameAddr("local")
	}
	return frameAddr("remote")
}

type frameAddr string

func (a frameAddr) Network() string { return "yamux" }
func (a frameAddr) String() string  { return "yamux:" + string(a) }

// gate holds a connection's writes until open (or Close).
type gate struct {
	io.ReadWriteCloser
	opened, closed chan struct{}
	openOnce       sync.Once
	closeOnce      sync.Once
}

func newGate(rwc io.ReadWriteCloser) *gate {
	return &gate{ReadWriteCloser: rwc, opened: make(chan struct{}), closed: make(chan struct{})}
}

func (g *gate) open() { g.openOnce.Do(func() { close(g.opened) }) }

func (g *gate) Write(p []byte) (int, error) {
	select {
	case <-g.opened:
	case <-g.closed:
		return 0, net.ErrClosed
	}
	return g.ReadWriteCloser.Write(p)
}

func (g *gate) Close() error {
	g.closeOnce.Do(func() { close(g.closed) })
	return g.ReadWriteCloser.Close()
}

// LocalAddr and RemoteAddr are the connection's.
func (g *gate) LocalAddr() net.Addr  { return connAddr(g.ReadWriteCloser, true) }
func (g *gate) RemoteAddr() net.Addr { return connAddr(g.ReadWriteCloser, false) }
