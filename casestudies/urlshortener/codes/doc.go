// Package codes turns a counter into the 7-character Base62 short codes of
// the URL shortener.
//
// A plain counter in Base62 is the textbook answer, and it leaks: codes come
// out in order, so anyone can enumerate every link (try the next code) and
// count how many exist (decode the newest). A Generator therefore passes the
// counter through a keyed bijection of [0, 62^7) before encoding it: a
// Feistel network over 42 bits, keyed with HMAC-SHA256, with cycle-walking to
// stay inside the 62^7 values that 7 Base62 characters hold. A bijection
// never maps two counter values to one code, so codes never collide and
// creation needs no "try another random code" loop; without the key the next
// code cannot be predicted from the previous ones. Sequential mode keeps the
// plain counter for teaching.
//
//	gen, err := codes.New(key)          // key: at least MinKeyLen bytes of secret
//	code, err := gen.Code(n)            // n from an atomic counter or Redis INCR
//	n, err := gen.Index(code)           // the inverse
package codes
