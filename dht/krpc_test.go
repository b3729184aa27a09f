package dht

import (
	"errors"
	"testing"
)

func TestCheckKRPC(t *testing.T) {
	ok := []string{
		"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe",
		"d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe",
		"d1:ad2:id20:abcdefghij012345678912:implied_porti1e9:info_hash20:mnopqrstuvwxyz1234565:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe",
		"d1:rd2:id20:0123456789abcdefghij5:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re",
		"d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee",
		"d1:y1:q1:t2:aa1:q4:ping1:ad2:id20:abcdefghij0123456789ee",    // unsorted keys
		"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qeXYZ", // trailing bytes
		"d1:ad2:id20:abcdefghij0123456789e1:q17:sample_infohashes1:t2:aa1:y1:qe",
	}
	for _, s := range ok {
		if err := CheckKRPC([]byte(s)); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	bad := map[string]string{
		"d1:q13:announce_peer1:t2:aa1:y1:qe":                           "no arguments",
		"d1:ad2:id3:abce1:q4:ping1:t2:aa1:y1:qe":                       "short id",
		"d1:rd2:id20:abcdefghij01234567896:valuesl1:xee1:t2:aa1:y1:re": "short value",
		"d2:ip1:x1:rd2:id20:abcdefghij0123456789e1:t2:aa1:y1:re":       "short ip",
		"d1:rd2:id20:abcdefghij01234567895:nodes3:abce1:t2:aa1:y1:re":  "partial node",
		"d1:t2:aa1:y1:re": "no result",
		"d1:ad2:id20:abcdefghij01234567894:porti70000e9:info_hash20:mnopqrstuvwxyz1234565:token1:xe1:q13:announce_peer1:t2:aa1:y1:qe": "port out of range",
		"d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234565:token1:xe1:q13:announce_peer1:t2:aa1:y1:qe":              "no port",
		"d1:ad2:id20:abcdefghij0123456789e1:q9:get_peers1:t2:aa1:y1:qe":                                                               "no info_hash",
		"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:xe":                                                                    "bad type",
		"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:y1:qe":                                                                           "no transaction id",
		"li1ee": "not a dictionary",
		"d1:ad2:id20:abcdefghij0123456789e1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe": "duplicate key",
	}
	for s, why := range bad {
		if err := CheckKRPC([]byte(s)); !errors.Is(err, ErrKRPC) {
			t.Errorf("%s: %q accepted (%v)", why, s, err)
		}
	}
	if err := CheckKRPC([]byte("d1:ad2:id20:abcdefghij0123456789e1:q3:put1:t2:aa1:y1:qe")); !errors.Is(err, ErrUnsupportedQuery) {
		t.Errorf("put: %v", err)
	}
}
