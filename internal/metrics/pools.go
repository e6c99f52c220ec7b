package metrics

import (
	"github.com/IBM/pgxpoolprometheus"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// RegisterPools adds the connection pools' state: PostgreSQL's (IBM/pgxpoolprometheus:
// pgxpool_acquire_count, pgxpool_idle_conns, ...) and Redis's (bff_redis_pool_*). go-redis's
// own Prometheus collector (extra/redisprometheus) cannot be verified by this Go proxy's
// checksum database, so the few Redis figures are read here from PoolStats.
func (m *Metrics) RegisterPools(pool *pgxpool.Pool, rdb redis.UniversalClient) {
	m.Registry.MustRegister(pgxpoolprometheus.NewCollector(pool, map[string]string{"db": "main"}), redisPool{rdb})
}

type redisPool struct{ rdb redis.UniversalClient }

var redisPoolDescs = struct{ hits, misses, timeouts, total, idle, stale *prometheus.Desc }{
	hits:     prometheus.NewDesc("bff_redis_pool_hits_total", "Connections taken from the Redis pool.", nil, nil),
	misses:   prometheus.NewDesc("bff_redis_pool_misses_total", "Redis pool misses (a new connection was dialled).", nil, nil),
	timeouts: prometheus.NewDesc("bff_redis_pool_timeouts_total", "Waits for a Redis pool connection that timed out (REDIS_TIMEOUT).", nil, nil),
	total:    prometheus.NewDesc("bff_redis_pool_connections", "Connections in the Redis pool.", nil, nil),
	idle:     prometheus.NewDesc("bff_redis_pool_idle_connections", "Idle connections in the Redis pool.", nil, nil),
	stale:    prometheus.NewDesc("bff_redis_pool_stale_connections_total", "Stale connections removed from the Redis pool.", nil, nil),
}

func (redisPool) Describe(ch chan<- *prometheus.Desc) {
	d := redisPoolDescs
	for _, x := range []*prometheus.Desc{d.hits, d.misses, d.timeouts, d.total, d.idle, d.stale} {
		ch <- x
	}
}

func (r redisPool) Collect(ch chan<- prometheus.Metric) {
	s, d := r.rdb.PoolStats(), redisPoolDescs
	ch <- prometheus.MustNewConstMetric(d.hits, prometheus.CounterValue, float64(s.Hits))
	ch <- prometheus.MustNewConstMetric(d.misses, prometheus.CounterValue, float64(s.Misses))
	ch <- prometheus.MustNewConstMetric(d.timeouts, prometheus.CounterValue, float64(s.Timeouts))
	ch <- prometheus.MustNewConstMetric(d.total, prometheus.GaugeValue, float64(s.TotalConns))
	ch <- prometheus.MustNewConstMetric(d.idle, prometheus.GaugeValue, float64(s.IdleConns))
	ch <- prometheus.MustNewConstMetric(d.stale, prometheus.CounterValue, float64(s.StaleConns))
}
