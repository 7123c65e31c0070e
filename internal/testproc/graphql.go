package testproc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"wagraph/internal/apptest"
)

// QueryError is a GraphQL response with errors.
type QueryError struct {
	Query  string
	Errors []apptest.GQLError
}

func (e *QueryError) Error() string { return fmt.Sprintf("%s: %+v", e.Query, e.Errors) }

// Post sends a GraphQL operation with the bearer token and returns its
// data; errors in the response are a *QueryError.
func (s *Server) Post(ctx context.Context, token, query string) (map[string]any, error) {
	body, _ := json.Marshal(map[string]string{"query": query})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.Base+"/graphql", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out struct {
		Data   map[string]any
		Errors []apptest.GQLError
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("%s: HTTP %s: %w", s.Base, resp.Status, err)
	}
	if len(out.Errors) > 0 {
		return nil, &QueryError{Query: query, Errors: out.Errors}
	}
	return out.Data, nil
}

// CreateAccount creates an account named name and returns its id.
func (s *Server) CreateAccount(ctx context.Context, token, name string) (string, error) {
	data, err := s.Post(ctx, token, fmt.Sprintf(`mutation { createAccount(input: {name: %q}) { account { id } } }`, name))
	if err != nil {
		return "", err
	}
	id, _ := apptest.Path(data, "createAccount", "account", "id").(string)
	return id, nil
}

// Link starts the account's QR activation on s and scans the code with a
// new phone of the simulator, as a person would; the account turns ACTIVE
// shortly after, on whichever instance runs it.
func (s *Server) Link(ctx context.Context, sim *Simulator, token, id string) error {
	data, err := s.Post(ctx, token, fmt.Sprintf(`mutation { startActivation(input: {accountId: %q, method: QR}) { account { activation { qr { code } } } } }`, id))
	if err != nil {
		return fmt.Errorf("start activation of %s: %w", id, err)
	}
	qr, _ := apptest.Path(data, "startActivation", "account", "activation", "qr", "code").(string)
	if _, err := sim.ScanQR(ctx, qr); err != nil {
		return fmt.Errorf("scan the QR code of %s: %w", id, err)
	}
	return nil
}
