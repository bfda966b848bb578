package projection

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Password length limits, in bytes.
const (
	MinPasswordBytes = 8
	MaxPasswordBytes = 256
)

// PasswordCost is the Argon2id cost of a new hash. Each hash records its
// own cost, so a hash keeps working when the default changes.
type PasswordCost struct {
	Time      uint32 // passes over memory
	MemoryKiB uint32
}

// The default cost follows OWASP's recommendation for Argon2id (19 MiB,
// 2 passes, 1 lane): about 20 ms on one core here (BenchmarkHashPassword:
// 17-23 ms on this 2-core AMD EPYC machine), slow enough to make guessing
// expensive and cheap enough for a small server.
const (
	DefaultPasswordTime      = 2
	DefaultPasswordMemoryKiB = 19 * 1024
)

const (
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// maxCheckMemoryKiB bounds the memory cost that CheckPassword accepts from a
// stored hash (4 GiB), so that a damaged or forged hash in a data file
// cannot make a sign-in allocate more; such a hash is ErrBadHash.
const maxCheckMemoryKiB = 4 << 20

// ErrBadHash means a stored password hash cannot be parsed, or its cost is
// out of bounds.
var ErrBadHash = errors.New("malformed password hash")

// HashPassword returns an Argon2id hash of password with a random salt, in
// the PHC string format ($argon2id$v=19$m=...,t=...,p=...$salt$key). A zero
// cost means the default.
func HashPassword(password string, cost PasswordCost) ([]byte, error) {
	if cost.Time == 0 || cost.MemoryKiB < 8 { // Argon2's least: 8 KiB a lane
		cost = PasswordCost{Time: DefaultPasswordTime, MemoryKiB: DefaultPasswordMemoryKiB}
	}
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	key := argon2.IDKey([]byte(password), salt, cost.Time, cost.MemoryKiB, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Appendf(nil, "$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, cost.MemoryKiB, cost.Time, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// CheckPassword reports whether password matches hash, in time that does
// not depend on where they differ. It uses the cost stored in the hash.
func CheckPassword(hash []byte, password string) (bool, error) {
	parts := strings.Split(string(hash), "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, ErrBadHash
	}
	var version int
	var memory, time uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, ErrBadHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &memory, &time, &threads); err != nil || time == 0 || threads == 0 || memory > maxCheckMemoryKiB {
		return false, ErrBadHash
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	key, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(key) == 0 {
		return false, ErrBadHash
	}
	got := argon2.IDKey([]byte(password), salt, time, memory, threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}
