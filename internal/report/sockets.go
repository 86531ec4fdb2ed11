package report

import (
	"fmt"
	"io"

	"github.com/keeptune/keeptune/internal/jsonx"
	"github.com/keeptune/keeptune/internal/sockets"
)

// flushAt is how much socket output is gathered before a write.
const flushAt = 64 << 10

// SocketListOptions say how a SocketList writes.
type SocketListOptions struct {
	// JSON writes JSON Lines (one socket per line), else a table.
	JSON bool
	// Header writes the table's header line; Netns adds the namespace column.
	Header, Netns bool
	// Stamp is written into every JSON line (`"snapshot":N,"time":"...",` of one refresh).
	Stamp []byte
}

// SocketList writes sockets as they come (`keeptune sockets`): a table or JSON Lines, in
// blocks of 64 KiB, so memory does not grow with the number of sockets.
type SocketList struct {
	w   io.Writer
	o   SocketListOptions
	buf []byte
}

// NewSocketList starts a list on w.
func NewSocketList(w io.Writer, o SocketListOptions) *SocketList {
	l := &SocketList{w: w, o: o, buf: make([]byte, 0, flushAt+4096)}
	if !o.JSON && o.Header {
		l.buf = sockets.AppendTableHeader(l.buf, o.Netns)
	}
	return l
}

// Socket writes one socket.
func (l *SocketList) Socket(s *sockets.Socket) error {
	if l.o.JSON {
		l.buf = sockets.AppendJSONStamped(l.buf, s, l.o.Stamp)
	} else {
		l.buf = sockets.AppendTableRow(l.buf, s, l.o.Netns)
	}
	if len(l.buf) >= flushAt {
		return l.Flush()
	}
	return nil
}

// Flush writes what is gathered.
func (l *SocketList) Flush() error {
	if len(l.buf) == 0 {
		return nil
	}
	_, err := l.w.Write(l.buf)
	l.buf = l.buf[:0]
	if err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// SocketSummary aggregates sockets per process and per listening port (`keeptune sockets
// --summary`) and writes the tables, or one JSON document, on Flush.
type SocketSummary struct {
	w    io.Writer
	json bool
	sum  *sockets.Summary
}

// NewSocketSummary starts a summary written to w as text or JSON.
func NewSocketSummary(w io.Writer, json bool) *SocketSummary {
	return &SocketSummary{w: w, json: json, sum: sockets.NewSummary()}
}

// Listener learns a listening port, so connections group under it whatever states are shown.
func (s *SocketSummary) Listener(l *sockets.Socket) { s.sum.NoteListener(l) }

// Socket counts one socket.
func (s *SocketSummary) Socket(k *sockets.Socket) error { s.sum.Add(k); return nil }

// Flush writes the summary.
func (s *SocketSummary) Flush() error {
	if s.json {
		if err := jsonx.NewEncoder(s.w).Encode(s.sum.JSON()); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
		return nil
	}
	if _, err := s.w.Write(s.sum.AppendSummary(nil)); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}
