package app

import (
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/keyspaces"
)

// openKeyspaces connects the Keyspaces message store that cfg describes: Amazon Keyspaces
// (TLS and SigV4 with the function's credentials) unless KEYSPACES_SIGV4=false, which means
// a plain connection to Apache Cassandra (with TLS when KEYSPACES_TLS stays true).
func openKeyspaces(awsCfg aws.Config, cfg config.Config, log *slog.Logger) (*keyspaces.Store, error) {
	kc := keyspaces.Config{
		Hosts:    cfg.KeyspacesHosts,
		Port:     cfg.KeyspacesPort,
		Keyspace: cfg.KeyspacesKeyspace,
		Logger:   log,
	}
	if cfg.KeyspacesSigV4 {
		if awsCfg.Region == "" {
			return nil, fmt.Errorf("app: Amazon Keyspaces needs an AWS region")
		}
		kc.Region = awsCfg.Region
		kc.Credentials = awsCfg.Credentials
		if len(kc.Hosts) == 0 {
			kc.Hosts = []string{"cassandra." + awsCfg.Region + ".amazonaws.com"}
		}
	} else {
		kc.TLS = cfg.KeyspacesTLS
	}
	s, err := keyspaces.Open(kc)
	if err != nil {
		return nil, fmt.Errorf("app: open Keyspaces store: %w", err)
	}
	return s, nil
}
