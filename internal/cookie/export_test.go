package cookie

import "encoding/binary"

// FindOption returns the data of the first COOKIE option in the RDATA of an
// OPT record (a list of option code, length, data). found is false if
// there is none, or the list is cut short before one; later COOKIE options
// are ignored (RFC 7873 gives no rule for several).
func FindOption(optRData []byte) (data []byte, found bool) {
	for len(optRData) >= 4 {
		code := binary.BigEndian.Uint16(optRData)
		n := int(binary.BigEndian.Uint16(optRData[2:]))
		if 4+n > len(optRData) {
			return nil, false
		}
		if code == OptionCode {
			return optRData[4 : 4+n], true
		}
		optRData = optRData[4+n:]
	}
	return nil, false
}
