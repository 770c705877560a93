package zk

import (
	"encoding/binary"
	"testing"
)

func frame(xid int32, body int) []byte {
	b := make([]byte, 8+body)
	binary.BigEndian.PutUint32(b, uint32(4+body))
	binary.BigEndian.PutUint32(b[4:], uint32(xid))
	return b
}

// Only replies (and the connect response) count as hearing from the
// server; a notification alone does not, however the stream is chunked.
func TestReplyFrames(t *testing.T) {
	connect := frame(0, 32) // no xid in fact: the first frame counts regardless
	notification := frame(-1, 40)
	ping := frame(-2, 12)
	reply := frame(7, 12)
	for _, chunk := range []int{1, 3, 7, 1000} {
		var f replyFrames
		feed := func(b []byte) bool {
			got := false
			for len(b) > 0 {
				n := min(chunk, len(b))
				got = f.feed(b[:n]) || got
				b = b[n:]
			}
			return got
		}
		steps := []struct {
			b    []byte
			want bool
		}{{connect, true}, {notification, false}, {ping, true}, {notification, false}, {reply, true},
			{append(append([]byte{}, notification...), notification...), false}}
		for i, s := range steps {
			if got := feed(s.b); got != s.want {
				t.Errorf("chunk %d, step %d: reply=%v, want %v", chunk, i, got, s.want)
			}
		}
	}
}
