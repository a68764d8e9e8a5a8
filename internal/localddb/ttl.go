package localddb

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"
)

func (p *Proxy) sweepLoop() {
	t := time.NewTicker(p.opts.TTLInterval)
	defer t.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-t.C:
			if _, err := p.Sweep(p.ctx); err != nil && p.ctx.Err() == nil {
				p.log.Warn("localddb: TTL sweep failed", "err", err)
			}
		}
	}
}

// Sweep deletes, in every table with TTL enabled, the items whose TTL attribute (a Number
// of Unix seconds) is in the past, and returns how many it deleted. On a table with a
// stream each deletion is a REMOVE record whose userIdentity is the DynamoDB service. The
// sweeper calls it every Options.TTLInterval.
func (p *Proxy) Sweep(ctx context.Context) (int, error) {
	p.mu.Lock()
	type ttlTable struct{ name, attr string }
	var tables []ttlTable
	for name, ts := range p.tables {
		if ts.ttlAttr != "" {
			tables = append(tables, ttlTable{name, ts.ttlAttr})
		}
	}
	p.mu.Unlock()
	sort.Slice(tables, func(i, j int) bool { return tables[i].name < tables[j].name })
	total := 0
	var errs []error
	for _, t := range tables {
		n, err := p.sweepTable(ctx, t.name, t.attr)
		total += n
		if err != nil {
			errs = append(errs, err)
		}
	}
	return total, errors.Join(errs...)
}

func (p *Proxy) sweepTable(ctx context.Context, table, attr string) (int, error) {
	ts := p.state(table, false)
	if ts == nil {
		return 0, nil
	}
	ks, err := p.keySchemaOf(ctx, table, ts)
	if err != nil {
		return 0, fmt.Errorf("ttl sweep %s: %w", table, err)
	}
	now := strconv.FormatInt(p.opts.Clock().Unix(), 10)
	names := map[string]string{"#ttl": attr, "#h": ks.hash}
	proj := "#h"
	if ks.rng != "" {
		names["#r"] = ks.rng
		proj += ", #r"
	}
	deleted := 0
	var start item
	for {
		in := map[string]any{
			"TableName":                 table,
			"FilterExpression":          "#ttl < :now",
			"ProjectionExpression":      proj,
			"ExpressionAttributeNames":  names,
			"ExpressionAttributeValues": map[string]any{":now": map[string]string{"N": now}},
			"ConsistentRead":            true,
		}
		if start != nil {
			in["ExclusiveStartKey"] = start
		}
		var out struct {
			Items            []item
			LastEvaluatedKey item
		}
		if err := p.call(ctx, "Scan", in, &out); err != nil {
			return deleted, fmt.Errorf("ttl sweep %s: %w", table, err)
		}
		for _, key := range out.Items {
			ok, err := p.expire(ctx, table, ks, attr, key, now)
			if err != nil {
				return deleted, fmt.Errorf("ttl sweep %s: %w", table, err)
			}
			if ok {
				deleted++
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return deleted, nil
		}
		start = out.LastEvaluatedKey
	}
}

// expire deletes one item if it is still expired, recording a service REMOVE. On a table
// with a stream and a state directory it reads the item first, for the intent.
func (p *Proxy) expire(ctx context.Context, table string, ks keySchema, attr string, key item, now string) (bool, error) {
	l := p.stream(table)
	l.write.Lock()
	defer l.write.Unlock()
	captured := p.captured(table) != nil
	id := p.nextSeq()
	if captured && l.durable() {
		old, err := p.getItem(ctx, table, key)
		if err != nil || old == nil {
			return false, err
		}
		if err := l.begin(id, []item{key}, []item{old}, serviceIdentity); err != nil {
			return false, err
		}
	}
	var out struct{ Attributes item }
	err := p.call(ctx, "DeleteItem", map[string]any{
		"TableName":                 table,
		"Key":                       key,
		"ConditionExpression":       "#ttl < :now",
		"ExpressionAttributeNames":  map[string]string{"#ttl": attr},
		"ExpressionAttributeValues": map[string]any{":now": map[string]string{"N": now}},
		"ReturnValues":              "ALL_OLD",
	}, &out)
	var ae *apiError
	if errors.As(err, &ae) && ae.Type == "ConditionalCheckFailedException" {
		return false, nil // written again since the scan
	}
	if err != nil {
		return false, err
	}
	if out.Attributes == nil {
		return false, nil
	}
	if rec, ok := p.change(table, key, out.Attributes, nil, serviceIdentity); ok {
		rec.intent = id
		if err := l.commit([]newRecord{rec}); err != nil {
			return true, err
		}
	}
	return true, nil
}
