package zk

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// decodeMasterInfoProto reads the fields svcdisco needs from a binary
// MasterInfo (the legacy "info_" members): id = 1, ip = 2, port = 3,
// pid = 4, hostname = 5, version = 6, address = 7 {hostname = 1, ip = 2,
// port = 3}. Other fields are skipped by wire type.
func decodeMasterInfoProto(b []byte) (masterInfo, error) {
	var mi masterInfo
	err := walkProto(b, func(field int, v uint64, s []byte) error {
		switch field {
		case 1:
			mi.ID = string(s)
		case 2:
			mi.IP = uint32(v)
		case 3:
			mi.Port = int(v)
		case 4:
			mi.PID = string(s)
		case 5:
			mi.Hostname = string(s)
		case 6:
			mi.Version = string(s)
		case 7:
			a := &masterAddress{}
			if err := walkProto(s, func(f int, v uint64, s []byte) error {
				switch f {
				case 1:
					a.Hostname = string(s)
				case 2:
					a.IP = string(s)
				case 3:
					a.Port = int(v)
				}
				return nil
			}); err != nil {
				return fmt.Errorf("address: %w", err)
			}
			mi.Address = a
		}
		return nil
	})
	return mi, err
}

var errTruncated = errors.New("truncated message")

// walkProto calls f for every field of a protobuf message: v for varints
// and fixed-width values, s for length-delimited ones.
func walkProto(b []byte, f func(field int, v uint64, s []byte) error) error {
	for len(b) > 0 {
		key, n := binary.Uvarint(b)
		if n <= 0 {
			return errTruncated
		}
		b = b[n:]
		field, wire := int(key>>3), key&7
		var v uint64
		var s []byte
		switch wire {
		case 0:
			if v, n = binary.Uvarint(b); n <= 0 {
				return errTruncated
			}
			b = b[n:]
		case 1, 5:
			size := 8
			if wire == 5 {
				size = 4
			}
			if len(b) < size {
				return errTruncated
			}
			if size == 8 {
				v = binary.LittleEndian.Uint64(b)
			} else {
				v = uint64(binary.LittleEndian.Uint32(b))
			}
			b = b[size:]
		case 2:
			l, n := binary.Uvarint(b)
			if n <= 0 || uint64(len(b)-n) < l {
				return errTruncated
			}
			s, b = b[n:n+int(l)], b[n+int(l):]
		default:
			return fmt.Errorf("unsupported wire type %d", wire)
		}
		if err := f(field, v, s); err != nil {
			return err
		}
	}
	return nil
}
