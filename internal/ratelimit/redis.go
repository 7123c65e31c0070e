package ratelimit

import (
	"context"
	_ "embed"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"wagraph/internal/apperr"
)

// DefaultRedisPrefix starts the name of every key the Redis limiter writes.
const DefaultRedisPrefix = "wagraph:ratelimit:"

var (
	//go:embed allow.lua
	allowLua    string
	allowScript = redis.NewScript(allowLua)

	//go:embed status.lua
	statusLua    string
	statusScript = redis.NewScript(statusLua)
)

// Redis is the Limiter shared by every instance on one Redis. Each key has
// one sorted set, <prefix>{<key>}, of its admission times in microseconds
// on Redis's clock; a decision is one Lua script (EVALSHA) over that set,
// so it is atomic and all instances share one budget and one clock. The set
// expires when its newest admission leaves the longest window.
type Redis struct {
	client redis.Scripter
	prefix string
	// now, when set, replaces Redis's clock: tests only, to move time by
	// hand. Production always decides on Redis's TIME.
	now func() time.Time
}

var _ Limiter = (*Redis)(nil)

// RedisOption configures NewRedis.
type RedisOption func(*Redis)

// WithPrefix sets the prefix of the limiter's key names (default
// DefaultRedisPrefix), to keep apart several deployments on one Redis.
func WithPrefix(prefix string) RedisOption {
	return func(r *Redis) { r.prefix = prefix }
}

// NewRedis returns a limiter on client (a *redis.Client or *redis.ClusterClient).
func NewRedis(client redis.Scripter, opts ...RedisOption) *Redis {
	r := &Redis{client: client, prefix: DefaultRedisPrefix}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Allow implements Limiter.
func (r *Redis) Allow(ctx context.Context, key string, limits []Limit) (Decision, error) {
	if err := Validate(key, limits); err != nil {
		return Decision{}, err
	}
	res, err := allowScript.Run(ctx, r.client, []string{r.logKey(key)}, r.args(limits)...).Int64Slice()
	if err != nil {
		return Decision{}, redisError(err)
	}
	if len(res) != 4 || (res[0] == 0 && (res[2] < 1 || res[2] > int64(len(limits)))) {
		return Decision{}, apperr.Wrap(fmt.Errorf("allow script returned %v", res), apperr.Internal, "the rate limiter's Redis script returned an unexpected reply")
	}
	d := Decision{Allowed: res[0] == 1, At: time.UnixMicro(res[1])}
	if !d.Allowed {
		d.Refused = limits[res[2]-1]
		d.RetryAfter = time.Duration(res[3]) * time.Microsecond
	}
	return d, nil
}

// Status implements Limiter.
func (r *Redis) Status(ctx context.Context, key string, limits []Limit) ([]WindowStatus, error) {
	if err := Validate(key, limits); err != nil {
		return nil, err
	}
	res, err := statusScript.Run(ctx, r.client, []string{r.logKey(key)}, r.args(limits)...).Int64Slice()
	if err != nil {
		return nil, redisError(err)
	}
	if len(res) != 1+3*len(limits) {
		return nil, apperr.Wrap(fmt.Errorf("status script returned %v", res), apperr.Internal, "the rate limiter's Redis script returned an unexpected reply")
	}
	out := make([]WindowStatus, len(limits))
	for i, l := range limits {
		used, nextFree, reset := int(res[1+3*i]), res[2+3*i], res[3+3*i]
		out[i] = WindowStatus{Limit: l, Used: used, Remaining: max(0, l.Max-used)}
		if used > 0 {
			out[i].NextFree, out[i].Reset = time.UnixMicro(nextFree), time.UnixMicro(reset)
		}
	}
	return out, nil
}

func (r *Redis) logKey(key string) string { return r.prefix + "{" + key + "}" }

// args are the scripts' ARGV: the time ("" for Redis's clock), then max and
// window in microseconds per limit.
func (r *Redis) args(limits []Limit) []any {
	args := make([]any, 0, 1+2*len(limits))
	if r.now != nil {
		args = append(args, strconv.FormatInt(r.now().UnixMicro(), 10))
	} else {
		args = append(args, "")
	}
	for _, l := range limits {
		args = append(args, l.Max, l.Window.Microseconds())
	}
	return args
}

func redisError(err error) error {
	return apperr.Wrap(err, apperr.Unavailable, "the rate limiter's Redis did not answer")
}
