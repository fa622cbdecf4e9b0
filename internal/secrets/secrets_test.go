package secrets

import (
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func TestPasswordHashRoundTrip(t *testing.T) {
	hash, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$") {
		t.Fatalf("hash format: %s", hash)
	}
	if strings.Contains(hash, "correct horse") {
		t.Fatal("hash contains the password")
	}
	cases := []struct {
		password string
		want     bool
	}{
		{"correct horse", true},
		{"correct horsE", false},
		{"", false},
		{strings.Repeat("x", MaxPasswordBytes+1), false},
	}
	for _, tc := range cases {
		if got := CheckPassword(hash, tc.password); got != tc.want {
			t.Errorf("CheckPassword(%q) = %v, want %v", tc.password, got, tc.want)
		}
	}
}

func TestSaltMakesHashesDiffer(t *testing.T) {
	a, _ := HashPassword("pw")
	b, _ := HashPassword("pw")
	if a == b {
		t.Fatal("two hashes of one password are equal: no salt")
	}
}

func TestBcryptHashesFromOtherServersAreAccepted(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("imported"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if !CheckPassword(string(hash), "imported") || CheckPassword(string(hash), "other") {
		t.Fatal("bcrypt hash not checked correctly")
	}
}

func TestMalformedHashesNeverMatch(t *testing.T) {
	for _, hash := range []string{
		"", "plain", "$argon2id$", "$argon2id$v=19$m=1,t=1,p=1$$",
		"$argon2id$v=19$m=999999999,t=1,p=1$c2FsdA$a2V5",
		"$argon2id$v=18$m=19456,t=2,p=1$c2FsdA$a2V5",
	} {
		if CheckPassword(hash, "") || CheckPassword(hash, "x") {
			t.Errorf("malformed hash %q matched", hash)
		}
	}
	if _, err := HashPassword(strings.Repeat("x", MaxPasswordBytes+1)); err != ErrPasswordTooLong {
		t.Errorf("long password: err = %v", err)
	}
}

func TestTokensAreRandomAndHashStable(t *testing.T) {
	a, _ := NewToken("wat_")
	b, _ := NewToken("wat_")
	if a == b || !strings.HasPrefix(a, "wat_") || len(a) < 40 {
		t.Fatalf("tokens: %q %q", a, b)
	}
	again := a
	if string(HashToken(a)) != string(HashToken(again)) || string(HashToken(a)) == string(HashToken(b)) {
		t.Fatal("token hash not a function of the token")
	}
	id, _ := NewDeviceID()
	if len(id) != 10 || strings.ToUpper(id) != id {
		t.Fatalf("device ID %q", id)
	}
}

// TestHashesWaitForAFreeSlot: with every argon2 slot taken, a hash waits
// until one is freed, so concurrent logins cannot hold more than
// cap(argonSlots) hashes' memory at once.
func TestHashesWaitForAFreeSlot(t *testing.T) {
	for range cap(argonSlots) {
		argonSlots <- struct{}{}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := HashPassword("correct horse"); err != nil {
			t.Error(err)
		}
	}()
	select {
	case <-done:
		t.Fatal("a hash ran while every slot was taken")
	case <-time.After(100 * time.Millisecond):
	}
	<-argonSlots
	<-done
	for range cap(argonSlots) - 1 {
		<-argonSlots
	}
}
