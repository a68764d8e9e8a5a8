package cost

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strings"
)

// Price is one list price: USD for Per units of Unit, read from the AWS pricing page Source.
type Price struct {
	USD    float64 `json:"usd"`
	Per    float64 `json:"per"`
	Unit   string  `json:"unit"`
	Source string  `json:"source"`
}

// Of returns the price of q units.
func (p Price) Of(q float64) float64 { return q / p.Per * p.USD }

// Prices is one dated price file of prices/ (prices/<region>-<date>.json, embedded).
type Prices struct {
	Comment string `json:"_comment"`
	Region  string `json:"region"`
	// Date is when the prices were read (YYYY-MM-DD).
	Date string `json:"date"`

	// APIGatewayMessages is the WebSocket message price up to APIGatewayTierMessages a
	// month, APIGatewayMessagesOverTier beyond; a message is metered in units of
	// APIGatewayMessageUnitBytes.
	APIGatewayMessages          Price   `json:"apiGatewayMessages"`
	APIGatewayMessagesOverTier  Price   `json:"apiGatewayMessagesOverTier"`
	APIGatewayTierMessages      float64 `json:"apiGatewayTierMessages"`
	APIGatewayMessageUnitBytes  int     `json:"apiGatewayMessageUnitBytes"`
	APIGatewayConnectionMinutes Price   `json:"apiGatewayConnectionMinutes"`

	LambdaRequests  Price `json:"lambdaRequests"`
	LambdaGBSeconds Price `json:"lambdaGBSeconds"`

	DynamoDBWrites             Price `json:"dynamoDBWrites"`
	DynamoDBReads              Price `json:"dynamoDBReads"`
	DynamoDBStreamsLambdaReads Price `json:"dynamoDBStreamsLambdaReads"`
	DynamoDBStorage            Price `json:"dynamoDBStorage"`

	KeyspacesWrites Price `json:"keyspacesWrites"`
	KeyspacesReads  Price `json:"keyspacesReads"`

	EventBridgeEvents       Price `json:"eventBridgeEvents"`
	CloudWatchLogsIngestion Price `json:"cloudWatchLogsIngestion"`
}

// APIGatewayMessagesUSD prices n messages in one month, with the volume tier.
func (p Prices) APIGatewayMessagesUSD(n float64) float64 {
	first := min(n, p.APIGatewayTierMessages)
	return p.APIGatewayMessages.Of(first) + p.APIGatewayMessagesOverTier.Of(n-first)
}

func (p Prices) check() error {
	named := map[string]Price{
		"apiGatewayMessages": p.APIGatewayMessages, "apiGatewayMessagesOverTier": p.APIGatewayMessagesOverTier,
		"apiGatewayConnectionMinutes": p.APIGatewayConnectionMinutes, "lambdaRequests": p.LambdaRequests,
		"lambdaGBSeconds": p.LambdaGBSeconds, "dynamoDBWrites": p.DynamoDBWrites, "dynamoDBReads": p.DynamoDBReads,
		"dynamoDBStreamsLambdaReads": p.DynamoDBStreamsLambdaReads, "dynamoDBStorage": p.DynamoDBStorage,
		"keyspacesWrites": p.KeyspacesWrites, "keyspacesReads": p.KeyspacesReads,
		"eventBridgeEvents": p.EventBridgeEvents, "cloudWatchLogsIngestion": p.CloudWatchLogsIngestion,
	}
	for name, pr := range named {
		if pr.Per <= 0 || pr.USD < 0 || pr.Unit == "" || pr.Source == "" {
			return fmt.Errorf("price %s: want usd ≥ 0, per > 0, a unit and a source (got %+v)", name, pr)
		}
	}
	if p.Region == "" || p.Date == "" || p.APIGatewayTierMessages <= 0 || p.APIGatewayMessageUnitBytes <= 0 {
		return fmt.Errorf("want region, date, apiGatewayTierMessages and apiGatewayMessageUnitBytes")
	}
	return nil
}

//go:embed prices/*.json
var priceFiles embed.FS

// priceFile names the newest price file of each region.
func priceFile() (map[string]string, error) {
	entries, err := priceFiles.ReadDir("prices")
	if err != nil {
		return nil, fmt.Errorf("cost: read prices: %w", err)
	}
	newest := map[string]string{}
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".json")
		// <region>-YYYY-MM-DD: the date is the last 10 characters.
		if len(name) < 12 || name[len(name)-11] != '-' {
			return nil, fmt.Errorf("cost: price file %s is not named <region>-YYYY-MM-DD.json", e.Name())
		}
		region := name[:len(name)-11]
		if prev, ok := newest[region]; !ok || e.Name() > prev {
			newest[region] = e.Name()
		}
	}
	return newest, nil
}

// Regions lists the regions that have a price file, sorted.
func Regions() []string {
	files, err := priceFile()
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(files))
	for r := range files {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// LoadPrices returns the newest embedded prices of region, or an error naming the regions
// that have prices.
func LoadPrices(region string) (Prices, error) {
	files, err := priceFile()
	if err != nil {
		return Prices{}, err
	}
	name, ok := files[region]
	if !ok {
		return Prices{}, fmt.Errorf("no prices for region %q (have: %s)", region, strings.Join(Regions(), ", "))
	}
	data, err := priceFiles.ReadFile(path.Join("prices", name))
	if err != nil {
		return Prices{}, fmt.Errorf("cost: read %s: %w", name, err)
	}
	var p Prices
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Prices{}, fmt.Errorf("cost: %s: %w", name, err)
	}
	if err := p.check(); err != nil {
		return Prices{}, fmt.Errorf("cost: %s: %w", name, err)
	}
	if p.Region != region {
		return Prices{}, fmt.Errorf("cost: %s says region %q", name, p.Region)
	}
	return p, nil
}
