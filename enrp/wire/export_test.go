package wire

// Checksum computes the ownership checksum of a set of elements from
// scratch, the reference for SumAcc.
func Checksum(handles []string, ids []uint32) uint16 {
	var s uint64
	for i := range handles {
		s += uint64(ElementSum(handles[i], ids[i]))
	}
	return ^fold(s)
}
