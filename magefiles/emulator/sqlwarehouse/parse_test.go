package sqlwarehouse

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		sql  string
		want *query
	}{
		{"the release tooling's payload statement", "SELECT databricks_request_id, client_request_id, request_time, status_code, request, response, served_entity_id FROM `cat`.`schema`.`prefix_payload` WHERE status_code = 200 ORDER BY request_time DESC LIMIT 400",
			&query{columns: []string{"databricks_request_id", "client_request_id", "request_time", "status_code", "request", "response", "served_entity_id"},
				table: []string{"cat", "schema", "prefix_payload"}, where: []condition{{column: "status_code", value: "200"}}, orderBy: "request_time", desc: true, limit: 400}},
		{"the release tooling's served entities statement", "SELECT served_entity_id, entity_name, entity_version FROM system.serving.served_entities WHERE endpoint_name = 'langgraph-human-interrupt-prod'",
			&query{columns: []string{"served_entity_id", "entity_name", "entity_version"}, table: []string{"system", "serving", "served_entities"},
				where: []condition{{column: "endpoint_name", value: "langgraph-human-interrupt-prod", quoted: true}}, limit: -1}},
		{"star, keywords in any case, a trailing semicolon", "select * from a.b.c;",
			&query{table: []string{"a", "b", "c"}, limit: -1}},
		{"strings, AND, ASC", "SELECT x FROM c WHERE a = 'it''s' AND b = -3 ORDER BY x ASC",
			&query{columns: []string{"x"}, table: []string{"c"}, where: []condition{{column: "a", value: "it's", quoted: true}, {column: "b", value: "-3"}}, orderBy: "x", limit: -1}},
		{"a backquoted keyword is a name", "SELECT `date` FROM `my``t`",
			&query{columns: []string{"date"}, table: []string{"my`t"}, limit: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parse(tt.sql)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseRefusesOutsideTheSubset(t *testing.T) {
	tests := []struct{ sql, reason string }{
		{"INSERT INTO a.b.c VALUES (1)", "only SELECT statements run"},
		{"SELECT count(*) FROM a.b.c", `expected FROM near "("`},
		{"SELECT a FROM t WHERE a > 1", `only <column> = <value> conditions run near ">"`},
		{"SELECT a FROM t WHERE a = b", `expected an integer or 'string' near "b"`},
		{"SELECT a FROM t WHERE a = 1 OR b = 2", `unexpected input near "OR"`},
		{"SELECT a FROM t LIMIT x", `LIMIT takes a non-negative integer near "x"`},
		{"SELECT a FROM a.b.c.d", "a table name has at most three parts"},
		{"SELECT a FROM t GROUP BY a", `unexpected input near "GROUP"`},
		{"SELECT a FROM", "expected a table name at the end of the statement"},
		{"SELECT 'x FROM t", "unterminated string literal"},
	}
	for _, tt := range tests {
		t.Run(tt.sql, func(t *testing.T) {
			_, err := parse(tt.sql)
			var un unsupported
			require.ErrorAs(t, err, &un)
			assert.Equal(t, tt.reason, un.reason)
		})
	}
}
