package sqlwarehouse

import (
	"crypto/rand"
	"fmt"
	"net/url"
	"sync"

	"github.com/databricks/databricks-sdk-go/service/sql"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/unitycatalog"
)

// Tables is where statements read tables: the metastore the workspace is
// attached to.
type Tables interface {
	Table(fullName string) (unitycatalog.Table, bool)
}

// Options configure a Store.
type Options struct {
	// ID is the warehouse's id; it must be set.
	ID string
	// Name is the warehouse's name; default "Emulator Warehouse".
	Name string
	// Creator is the workspace's user, who created the warehouse.
	Creator string
	// Host is the workspace URL, for the warehouse's JDBC and ODBC details.
	Host string
	// Tables is what statements read; nil reads nothing (every table is
	// missing).
	Tables Tables
}

// Store is one workspace's SQL warehouse and the statements run on it. It
// has its own lock.
type Store struct {
	opts Options

	mu         sync.Mutex
	statements map[string]*statementJSON
	order      []string // statement ids, oldest first
}

// New returns the store of opts.
func New(opts Options) (*Store, error) {
	if opts.ID == "" {
		return nil, fmt.Errorf("sql warehouse: no warehouse id")
	}
	if opts.Name == "" {
		opts.Name = "Emulator Warehouse"
	}
	return &Store{opts: opts, statements: map[string]*statementJSON{}}, nil
}

// ID is the warehouse's id.
func (s *Store) ID() string { return s.opts.ID }

// warehouse is the warehouse as warehouses/list shows it: a serverless PRO
// warehouse, RUNNING and healthy.
func (s *Store) warehouse() sql.EndpointInfo {
	path := "/sql/1.0/warehouses/" + s.opts.ID
	host := s.opts.Host
	if u, err := url.Parse(s.opts.Host); err == nil && u.Host != "" {
		host = u.Hostname()
	}
	return sql.EndpointInfo{
		Id: s.opts.ID, Name: s.opts.Name, CreatorName: s.opts.Creator,
		ClusterSize: "2X-Small", AutoStopMins: 10, MinNumClusters: 1, MaxNumClusters: 1, NumClusters: 1,
		EnableServerlessCompute: true, EnablePhoton: true,
		State: sql.StateRunning, WarehouseType: sql.EndpointInfoWarehouseTypePro,
		Health:     &sql.EndpointHealth{Status: sql.StatusHealthy},
		JdbcUrl:    "jdbc:databricks://" + host + ":443/default;transportMode=http;ssl=1;AuthMech=3;httpPath=" + path + ";",
		OdbcParams: &sql.OdbcParams{Hostname: host, Path: path, Port: 443, Protocol: "https"},
	}
}

// warehouseGet is the same warehouse as warehouses/get shows it.
func (s *Store) warehouseGet() sql.GetWarehouseResponse {
	w := s.warehouse()
	return sql.GetWarehouseResponse{
		Id: w.Id, Name: w.Name, CreatorName: w.CreatorName, ClusterSize: w.ClusterSize,
		AutoStopMins: w.AutoStopMins, MinNumClusters: w.MinNumClusters, MaxNumClusters: w.MaxNumClusters,
		NumClusters: w.NumClusters, EnableServerlessCompute: w.EnableServerlessCompute, EnablePhoton: w.EnablePhoton,
		State: w.State, WarehouseType: sql.GetWarehouseResponseWarehouseTypePro, Health: w.Health,
		JdbcUrl: w.JdbcUrl, OdbcParams: w.OdbcParams,
	}
}

// statementID is a UUID like the service's statement ids.
func statementID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("sql warehouse: no randomness: %v", err))
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
