package graph

import (
	"context"
	"errors"

	"wagraph/graph/model"
)

func (p pinSubscriptions) BatchProgress(context.Context, string) (<-chan *model.BatchProgressEvent, error) {
	return nil, errors.New("not used in this test")
}
