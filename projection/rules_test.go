package projection_test

import (
	"strings"
	"testing"

	"github.com/chateau/chateau/projection"
)

func TestValidUsername(t *testing.T) {
	tests := []struct {
		s    string
		want bool
	}{
		{"a", true},
		{"alice", true},
		{"Alice_Smith-2.0", true},
		{"0", true},
		{"_", true},
		{".", true},
		{"-", true},
		{"..", true},
		{strings.Repeat("a", projection.MaxUsernameBytes), true},
		{strings.Repeat("a", projection.MaxUsernameBytes+1), false},
		{"", false},
		{" ", false},
		{"alice smith", false},
		{" alice", false},
		{"alice\n", false},
		{"alice\x00", false},
		{"al@ce", false},
		{"al/ce", false},
		{"al:ce", false},
		{"#general", false},
		{"café", false},
		{"ａlice", false}, // fullwidth a
		{"\xff", false},
		{strings.Repeat("é", 10), false}, // 20 bytes, but not ASCII
	}
	for _, tt := range tests {
		if got := projection.ValidUsername(tt.s); got != tt.want {
			t.Errorf("ValidUsername(%q) = %v, want %v", tt.s, got, tt.want)
		}
	}
}

func TestValidChatname(t *testing.T) {
	tests := []struct {
		s    string
		want bool
	}{
		{"g", true},
		{"general", true},
		{"the general chat", true},
		{" padded ", true},
		{"café ☕ 咖啡", true},
		{"👋", true},
		{"#!$%&'()*+,-./:;<=>?@[]^_`{|}~", true},
		{strings.Repeat("a", projection.MaxChatnameRunes), true},
		{strings.Repeat("é", projection.MaxChatnameRunes), true}, // 128 bytes, 64 characters
		{strings.Repeat("👋", projection.MaxChatnameRunes), true}, // 256 bytes
		{strings.Repeat("a", projection.MaxChatnameRunes+1), false},
		{strings.Repeat("é", projection.MaxChatnameRunes+1), false},
		{"", false},
		{"tab\there", false},
		{"new\nline", false},
		{"nul\x00", false},
		{"del\x7f", false},
		{"c1 \u0085 control", false},
		{"invalid \xff utf-8", false},
		{"truncated \xe2\x98", false},
		{"replacement \ufffd", false},
	}
	for _, tt := range tests {
		if got := projection.ValidChatname(tt.s); got != tt.want {
			t.Errorf("ValidChatname(%q) = %v, want %v", tt.s, got, tt.want)
		}
	}
}
