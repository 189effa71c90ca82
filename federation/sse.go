package federation

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Limits of the SSE reader: an upstream cannot make us buffer more.
const (
	maxSSELine  = 1 << 20 // bytes in one line
	maxSSEEvent = 4 << 20 // bytes of data in one event
)

// sseEvent is one dispatched server-sent event. data is valid until the
// next call to next.
type sseEvent struct {
	name string
	data []byte
}

// sseReader parses text/event-stream (WHATWG HTML §9.2) as upstreams
// send it: lines end in \n or \r\n (lone \r is not used by any LLM
// server and not supported), ':' lines are comments, a blank line
// dispatches. Unlike the browser algorithm, a final event not followed
// by a blank line is still dispatched at EOF: several servers end with a
// bare "data: [DONE]", and whether a stream is complete is decided by
// the wire-format decoder, never by the framing.
type sseReader struct {
	br   *bufio.Reader
	line []byte // spill buffer for lines longer than br's buffer
	data []byte
	eof  bool
}

func newSSEReader(r io.Reader) *sseReader {
	return &sseReader{br: bufio.NewReaderSize(r, 16<<10)}
}

// next returns the next event, io.EOF at the end of the stream, or the
// read error that interrupted it.
func (s *sseReader) next() (sseEvent, error) {
	s.data = s.data[:0]
	name, hasData := "", false
	for {
		if s.eof {
			return sseEvent{}, io.EOF
		}
		line, err := s.readLine()
		if err == io.EOF {
			s.eof = true
			if hasData {
				return sseEvent{name: name, data: s.data}, nil
			}
			return sseEvent{}, io.EOF
		}
		if err != nil {
			return sseEvent{}, err
		}
		if len(line) == 0 {
			if hasData {
				return sseEvent{name: name, data: s.data}, nil
			}
			name = "" // an event without data is not dispatched
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value, found := bytes.Cut(line, []byte{':'})
		if found && len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
		switch string(field) {
		case "data":
			if hasData {
				s.data = append(s.data, '\n')
			}
			if len(s.data)+len(value) > maxSSEEvent {
				return sseEvent{}, fmt.Errorf("%w: SSE event exceeds %d bytes", ErrMalformed, maxSSEEvent)
			}
			s.data = append(s.data, value...)
			hasData = true
		case "event":
			name = string(value)
		}
		// id and retry steer browser reconnection, which never applies:
		// a broken upstream stream is not resumed.
	}
}

// readLine returns one line without its terminator. A last line without
// a terminator is returned as is; io.EOF comes only when nothing is left.
func (s *sseReader) readLine() ([]byte, error) {
	s.line = s.line[:0]
	for {
		frag, err := s.br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if len(s.line)+len(frag) > maxSSELine {
				return nil, fmt.Errorf("%w: SSE line exceeds %d bytes", ErrMalformed, maxSSELine)
			}
			s.line = append(s.line, frag...)
			continue
		}
		if err == io.EOF && len(frag) == 0 && len(s.line) == 0 {
			return nil, io.EOF
		}
		if err != nil && err != io.EOF {
			return nil, err
		}
		line := frag
		if len(s.line) > 0 {
			if len(s.line)+len(frag) > maxSSELine {
				return nil, fmt.Errorf("%w: SSE line exceeds %d bytes", ErrMalformed, maxSSELine)
			}
			s.line = append(s.line, frag...)
			line = s.line
		}
		line = bytes.TrimSuffix(line, []byte{'\n'})
		line = bytes.TrimSuffix(line, []byte{'\r'})
		return line, nil
	}
}
