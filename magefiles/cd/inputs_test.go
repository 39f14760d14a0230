package cd

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFlagValue(t *testing.T) {
	tests := []struct {
		value string
		want  bool
		err   string
	}{
		{value: "", want: false},
		{value: "0", want: false},
		{value: "no", want: false},
		{value: " False ", want: false},
		{value: "1", want: true},
		{value: "YES", want: true},
		{value: "on", want: true},
		{value: "maybe", err: `APPROVE="maybe": want 1 or 0 (true/false, yes/no)`},
		{value: "2", err: `APPROVE="2"`},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			got, err := flagValue(ApproveEnv, tt.value)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				assert.False(t, got, "a bad value is never a yes")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
