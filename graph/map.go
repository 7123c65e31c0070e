package graph

import (
	"wagraph/graph/model"
	"wagraph/internal/auth"
	"wagraph/internal/observe"
)

// apiToken maps a stored token to its GraphQL shape (never the secret).
func apiToken(t *auth.Token) *model.APIToken {
	return &model.APIToken{
		ID: t.ID, Name: t.Name, Role: model.Role(t.Role),
		CreatedAt: t.CreatedAt, LastUsedAt: t.LastUsedAt, RevokedAt: t.RevokedAt,
	}
}

// health maps a readiness report to its GraphQL shape.
func health(r observe.Report) *model.Health {
	out := &model.Health{Status: healthStatus(r.Up()), Version: r.Version, UptimeSeconds: r.UptimeSeconds}
	for _, c := range r.Components {
		hc := &model.HealthComponent{Name: c.Name, Status: healthStatus(c.Up), LatencyMs: c.LatencyMs}
		if c.Error != "" {
			hc.Error = &c.Error
		}
		out.Components = append(out.Components, hc)
	}
	return out
}

func healthStatus(up bool) model.HealthStatus {
	if up {
		return model.HealthStatusUp
	}
	return model.HealthStatusDown
}
