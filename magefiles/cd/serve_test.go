package cd

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/databricks/databricks-sdk-go/service/ml"
	"github.com/databricks/databricks-sdk-go/service/serving"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every served entity the serve stage writes sends scale_to_zero_enabled,
// also when it is false (prod): the SDK leaves a false out and the service
// refuses the entity without it (terraform-provider-databricks issues #3946
// and #4064).
func TestServedEntitySendsScaleToZero(t *testing.T) {
	for _, scale := range []bool{false, true} {
		s := &State{Version: &ml.ModelVersion{Name: "m", Version: "3"}, Config: &EnvConfig{ServedPrefix: "m", Endpoint: &serving.CreateServingEndpoint{Config: &serving.EndpointCoreConfigInput{
			ServedEntities: []serving.ServedEntityInput{{WorkloadSize: "Medium", ScaleToZeroEnabled: scale}},
		}}}}
		for name, in := range map[string]serving.ServedEntityInput{
			"served entity": s.ServedEntity("m", "3"),
			"served config": s.endpointConfig("m-3").ServedEntities[0],
		} {
			raw, err := json.Marshal(in)
			require.NoError(t, err)
			assert.Contains(t, string(raw), fmt.Sprintf(`"scale_to_zero_enabled":%t`, scale), name)
			assert.Contains(t, string(raw), `"workload_size":"Medium"`, name)
		}
	}
}
