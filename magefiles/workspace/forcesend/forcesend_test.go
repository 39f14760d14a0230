package forcesend

import (
	"encoding/json"
	"testing"

	"github.com/databricks/databricks-sdk-go/service/serving"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The SDK leaves a false bool out of the JSON unless ForceSendFields names
// it; the service refuses a served entity without scale_to_zero_enabled
// (terraform-provider-databricks issues #3946 and #4064, fixed in its pull
// request #3387 by always sending the field).
func TestServedEntityAlwaysSendsScaleToZero(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   serving.ServedEntityInput
		want string
	}{
		{"false is sent", serving.ServedEntityInput{EntityName: "m", EntityVersion: "1"}, `"scale_to_zero_enabled":false`},
		{"true is sent", serving.ServedEntityInput{EntityName: "m", EntityVersion: "1", ScaleToZeroEnabled: true}, `"scale_to_zero_enabled":true`},
		{"already forced stays single", serving.ServedEntityInput{EntityName: "m", EntityVersion: "1", ForceSendFields: []string{ScaleToZero}}, `"scale_to_zero_enabled":false`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := ServedEntity(tc.in)
			raw, err := json.Marshal(out)
			require.NoError(t, err)
			assert.Contains(t, string(raw), tc.want)
			assert.Equal(t, []string{ScaleToZero}, out.ForceSendFields)
		})
	}
	t.Run("the SDK alone leaves false out", func(t *testing.T) {
		raw, err := json.Marshal(serving.ServedEntityInput{EntityName: "m", EntityVersion: "1"})
		require.NoError(t, err)
		assert.NotContains(t, string(raw), "scale_to_zero_enabled")
	})
}

func TestEndpointConfigCopies(t *testing.T) {
	shared := make([]string, 0, 4)
	in := serving.EndpointCoreConfigInput{Name: "e", ServedEntities: []serving.ServedEntityInput{
		{Name: "a", EntityName: "m", EntityVersion: "1", ForceSendFields: shared},
		{Name: "b", EntityName: "m", EntityVersion: "2", ScaleToZeroEnabled: true},
	}}
	out := EndpointConfig(in)
	raw, err := json.Marshal(out)
	require.NoError(t, err)
	var back struct {
		ServedEntities []map[string]any `json:"served_entities"`
	}
	require.NoError(t, json.Unmarshal(raw, &back))
	require.Len(t, back.ServedEntities, 2)
	assert.Equal(t, false, back.ServedEntities[0]["scale_to_zero_enabled"])
	assert.Equal(t, true, back.ServedEntities[1]["scale_to_zero_enabled"])
	assert.Empty(t, in.ServedEntities[0].ForceSendFields, "the caller's config is not changed")
	assert.Equal(t, "", shared[:1][0], "the caller's backing array is not written")

	req := CreateEndpoint(serving.CreateServingEndpoint{Name: "e", Config: &in})
	assert.Equal(t, []string{ScaleToZero}, req.Config.ServedEntities[0].ForceSendFields)
	assert.Empty(t, in.ServedEntities[0].ForceSendFields)
	assert.Nil(t, CreateEndpoint(serving.CreateServingEndpoint{Name: "e"}).Config)
}
