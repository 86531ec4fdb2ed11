package model

import "time"

// SocketThresholds say when a live socket is trouble: the derived flags of the socket table
// (idle-without-keepalive, close-wait-leak, silent-peer) and the audit's socket rules use them.
type SocketThresholds struct {
	// Idle is the idle time beyond which an established socket without keepalive is flagged
	// (default 300 s).
	Idle time.Duration
	// CloseWait is the CLOSE_WAIT age beyond which a socket is flagged as leaked (default 60 s).
	CloseWait time.Duration
	// SilentBackoff is the retransmission backoff from which a peer is called silent (default 3).
	SilentBackoff uint8
}

// DefaultSocketThresholds are the thresholds the CLI and the exporter start from.
var DefaultSocketThresholds = SocketThresholds{Idle: 300 * time.Second, CloseWait: 60 * time.Second, SilentBackoff: 3}
