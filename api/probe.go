package api

import (
	"errors"
	"net"
	"sync/atomic"
	"time"
)

// probe notices a client that hangs up while its request runs. fasthttp
// does not read from a connection while a handler (or a body stream
// writer) runs, so a background one-byte read sees the peer's FIN or RST
// at once and cancels the request, freeing its scheduler slot. net/http
// does the same for its CloseNotify.
//
// Only TCP and Unix connections are probed: their deadlines may be changed
// while a Read blocks, which is how stop wakes the probe. Other conns (in-
// memory pipes) go unprobed; their clients' departures still show up as
// write errors on streams and as request timeouts.
type probe struct {
	conn  net.Conn
	done  chan struct{}
	stray atomic.Bool // the client sent bytes (a pipelined request) that the probe consumed
}

func startProbe(conn net.Conn, onHangup func()) *probe {
	switch conn.(type) {
	case *net.TCPConn, *net.UnixConn:
	default:
		return nil
	}
	p := &probe{conn: conn, done: make(chan struct{})}
	// fasthttp armed a deadline to read the request; the probe waits for
	// as long as the request runs instead.
	if conn.SetReadDeadline(time.Time{}) != nil {
		return nil
	}
	go func() {
		defer close(p.done)
		var b [1]byte
		n, err := conn.Read(b[:])
		if n > 0 {
			p.stray.Store(true)
			return
		}
		var ne net.Error
		if err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
			onHangup()
		}
	}()
	return p
}

// stop ends the probe and reports whether it consumed bytes of a
// pipelined request: those cannot be handed back to fasthttp's reader, so
// the connection should close after this response.
func (p *probe) stop() (stray bool) {
	if p == nil {
		return false
	}
	_ = p.conn.SetReadDeadline(time.Unix(1, 0)) // in the past: the blocked Read returns
	<-p.done
	_ = p.conn.SetReadDeadline(time.Time{})
	return p.stray.Load()
}
