package projection_test

import (
	"errors"
	"testing"

	"github.com/chateau/chateau/projection"
)

// TestCheckPassword_BadHash checks that hashes that do not parse, or whose
// cost is out of bounds, are refused before any hashing, and that a good
// one of the same form is not.
func TestCheckPassword_BadHash(t *testing.T) {
	good, err := projection.HashPassword("a password", projection.PasswordCost{Time: 1, MemoryKiB: 8})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := projection.CheckPassword(good, "a password"); !ok || err != nil {
		t.Fatalf("CheckPassword(%s) = %v, %v; want true", good, ok, err)
	}
	const saltKey = "$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"
	for _, hash := range []string{
		"",
		"plain text",
		"$argon2i$v=19$m=8,t=1,p=1" + saltKey,
		"$argon2id$v=16$m=8,t=1,p=1" + saltKey,
		"$argon2id$v=19$m=8,t=0,p=1" + saltKey,
		"$argon2id$v=19$m=8,t=1,p=0" + saltKey,
		"$argon2id$v=19$m=4194305,t=1,p=1" + saltKey, // 4 GiB and 1 KiB
		"$argon2id$v=19$m=8,t=1,p=1$c2FsdA$",
		"$argon2id$v=19$m=8,t=1,p=1$!!$a2V5",
	} {
		if ok, err := projection.CheckPassword([]byte(hash), "a password"); ok || !errors.Is(err, projection.ErrBadHash) {
			t.Errorf("CheckPassword(%q) = %v, %v; want ErrBadHash", hash, ok, err)
		}
	}
}

// BenchmarkHashPassword hashes at the default cost, what registering a
// protected name costs (checking a password costs the same).
func BenchmarkHashPassword(b *testing.B) {
	for b.Loop() {
		if _, err := projection.HashPassword("correct horse battery staple", projection.PasswordCost{}); err != nil {
			b.Fatal(err)
		}
	}
}
