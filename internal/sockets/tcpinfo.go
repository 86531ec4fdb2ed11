package sockets

import "encoding/binary"

// TCPInfo is struct tcp_info (include/uapi/linux/tcp.h) as far as the kernel sent it. The struct
// only ever grows at its end, so each kernel sends a prefix of today's layout: DecodeTCPInfo fills
// the fields that lie wholly inside the bytes received and leaves the others zero; Len says how
// many bytes there were, and the Has* methods say which groups of fields are real.
//
// Times are in the kernel's units: Last* in milliseconds ago, RTT, RTTVar, MinRTT and RTO in
// microseconds.
type TCPInfo struct {
	Len int

	State, CAState, Retransmits, Probes, Backoff, Options uint8
	SndWscale, RcvWscale                                  uint8

	RTO, ATO, SndMSS, RcvMSS                             uint32
	Unacked, Sacked, Lost, Retrans, Fackets              uint32
	LastDataSent, LastAckSent, LastDataRecv, LastAckRecv uint32
	PMTU, RcvSsthresh, RTT, RTTVar, SndSsthresh, SndCwnd uint32
	AdvMSS, Reordering, RcvRTT, RcvSpace, TotalRetrans   uint32

	PacingRate, MaxPacingRate                     uint64 // 3.15
	BytesAcked, BytesReceived                     uint64 // 4.1
	SegsOut, SegsIn                               uint32 // 4.2
	NotsentBytes, MinRTT, DataSegsIn, DataSegsOut uint32 // 4.6
	DeliveryRate                                  uint64 // 4.9
	BusyTime, RwndLimited, SndbufLimited          uint64 // 4.10
	Delivered, DeliveredCE                        uint32 // 4.18
	BytesSent, BytesRetrans                       uint64 // 4.19
	DsackDups, ReordSeen                          uint32 // 4.19
	RcvOOOPack                                    uint32 // 5.4
	SndWnd                                        uint32 // 5.4
	RcvWnd, Rehash                                uint32 // 6.2
	TotalRTO, TotalRTORecoveries                  uint16 // 6.7
	TotalRTOTime                                  uint32 // 6.7
}

// Sizes of struct tcp_info at points where fields were added (the end offset of the last field).
const (
	TCPInfoLenBase       = 104 // the struct up to tcpi_total_retrans (2.6 kernels)
	tcpInfoLenBytesAcked = 136 // tcpi_bytes_received ends here
	tcpInfoLenMinRTT     = 152
	tcpInfoLenRcvWnd     = 236
	tcpInfoLenTotalRTO   = 248
)

// HasBytes reports whether BytesAcked and BytesReceived were sent (Linux 4.1+).
func (t *TCPInfo) HasBytes() bool { return t.Len >= tcpInfoLenBytesAcked }

// HasMinRTT reports whether MinRTT was sent (Linux 4.6+).
func (t *TCPInfo) HasMinRTT() bool { return t.Len >= tcpInfoLenMinRTT }

// HasTotalRTO reports whether TotalRTO, TotalRTORecoveries and TotalRTOTime were sent (6.7+).
func (t *TCPInfo) HasTotalRTO() bool { return t.Len >= tcpInfoLenTotalRTO }

// DecodeTCPInfo decodes b, the payload of an INET_DIAG_INFO attribute, into t. It never reads
// past b: fields beyond it are zero. A payload shorter than the 8-byte head leaves t with only
// Len set.
func DecodeTCPInfo(b []byte, t *TCPInfo) {
	*t = TCPInfo{Len: len(b)}
	if len(b) < 8 {
		return
	}
	t.State, t.CAState, t.Retransmits, t.Probes, t.Backoff, t.Options = b[0], b[1], b[2], b[3], b[4], b[5]
	t.SndWscale, t.RcvWscale = b[6]&0x0f, b[6]>>4
	ne := binary.NativeEndian
	u32 := func(off int, dst *uint32) {
		if off+4 <= len(b) {
			*dst = ne.Uint32(b[off:])
		}
	}
	u64 := func(off int, dst *uint64) {
		if off+8 <= len(b) {
			*dst = ne.Uint64(b[off:])
		}
	}
	u16 := func(off int, dst *uint16) {
		if off+2 <= len(b) {
			*dst = ne.Uint16(b[off:])
		}
	}
	for i, dst := range [...]*uint32{
		&t.RTO, &t.ATO, &t.SndMSS, &t.RcvMSS, &t.Unacked, &t.Sacked, &t.Lost, &t.Retrans, &t.Fackets,
		&t.LastDataSent, &t.LastAckSent, &t.LastDataRecv, &t.LastAckRecv,
		&t.PMTU, &t.RcvSsthresh, &t.RTT, &t.RTTVar, &t.SndSsthresh, &t.SndCwnd,
		&t.AdvMSS, &t.Reordering, &t.RcvRTT, &t.RcvSpace, &t.TotalRetrans,
	} {
		u32(8+4*i, dst)
	}
	if len(b) <= TCPInfoLenBase {
		return
	}
	u64(104, &t.PacingRate)
	u64(112, &t.MaxPacingRate)
	u64(120, &t.BytesAcked)
	u64(128, &t.BytesReceived)
	u32(136, &t.SegsOut)
	u32(140, &t.SegsIn)
	u32(144, &t.NotsentBytes)
	u32(148, &t.MinRTT)
	u32(152, &t.DataSegsIn)
	u32(156, &t.DataSegsOut)
	u64(160, &t.DeliveryRate)
	u64(168, &t.BusyTime)
	u64(176, &t.RwndLimited)
	u64(184, &t.SndbufLimited)
	u32(192, &t.Delivered)
	u32(196, &t.DeliveredCE)
	u64(200, &t.BytesSent)
	u64(208, &t.BytesRetrans)
	u32(216, &t.DsackDups)
	u32(220, &t.ReordSeen)
	u32(224, &t.RcvOOOPack)
	u32(228, &t.SndWnd)
	u32(232, &t.RcvWnd)
	u32(236, &t.Rehash)
	u16(240, &t.TotalRTO)
	u16(242, &t.TotalRTORecoveries)
	u32(244, &t.TotalRTOTime)
}
