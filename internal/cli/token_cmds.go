package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"
	"github.com/spf13/cobra"

	"github.com/heraldrt/herald/internal/auth/jwt"
	"github.com/heraldrt/herald/internal/config"
)

// gentokenCmd builds gentoken (connection token) or gensubtoken.
func gentokenCmd(file *string, stdout io.Writer, sub bool) *cobra.Command {
	var (
		user, channel string
		ttl           int64
		quiet         bool
	)
	name, short := "gentoken", "Generate a connection JWT signed with client.token.hmac_secret_key"
	if sub {
		name, short = "gensubtoken", "Generate a subscription JWT signed with the subscription token HMAC key"
	}
	cmd := &cobra.Command{
		Use:   name,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			cfg, err := loadConfig(*file, nil, false, io.Discard)
			if err != nil {
				return err
			}
			tok := cfg.Client.Token
			if sub && cfg.Client.SubscriptionToken.Enabled {
				tok = cfg.Client.SubscriptionToken.Token
			}
			if tok.HMACSecretKey == "" {
				return errors.New("no HMAC secret key in the configuration (client.token.hmac_secret_key)")
			}
			if sub && channel == "" {
				return errors.New("--channel is required")
			}
			claims := gojwt.MapClaims{"sub": user, "iat": time.Now().Unix()}
			if ttl > 0 {
				claims["exp"] = time.Now().Add(time.Duration(ttl) * time.Second).Unix()
			}
			if sub {
				claims["channel"] = channel
			}
			s, err := gojwt.NewWithClaims(gojwt.SigningMethodHS256, claims).SignedString([]byte(tok.HMACSecretKey))
			if err != nil {
				return err
			}
			if quiet {
				fmt.Fprintln(stdout, s)
				return nil
			}
			exp := "never expires"
			if ttl > 0 {
				exp = fmt.Sprintf("expires in %s", time.Duration(ttl)*time.Second)
			}
			fmt.Fprintf(stdout, "HMAC SHA-256 JWT for user %q %s:\n%s\n", user, exp, s)
			return nil
		},
	}
	cmd.Flags().StringVarP(&user, "user", "u", "", "user id")
	cmd.Flags().Int64VarP(&ttl, "ttl", "t", 604800, "token lifetime in seconds; -1 for no expiration")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the token")
	if sub {
		cmd.Flags().StringVarP(&channel, "channel", "s", "", "channel")
	}
	return cmd
}

// checktokenCmd builds checktoken or checksubtoken.
func checktokenCmd(file *string, stdout io.Writer, sub bool) *cobra.Command {
	name := "checktoken"
	if sub {
		name = "checksubtoken"
	}
	return &cobra.Command{
		Use:   name + " TOKEN",
		Short: "Verify a token with the configured keys and print its claims",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			cfg, err := loadConfig(*file, nil, false, io.Discard)
			if err != nil {
				return err
			}
			v, err := verifierFor(cfg)
			if err != nil {
				return err
			}
			if sub {
				t, err := v.VerifySubscribeToken(context.Background(), args[0])
				if err != nil {
					return fmt.Errorf("invalid subscription token: %w", err)
				}
				fmt.Fprintf(stdout, "valid subscription token for user %q, channel %q, expire_at %d\n", t.UserID, t.Channel, t.ExpireAt)
				return nil
			}
			t, err := v.VerifyConnectToken(context.Background(), args[0])
			if err != nil {
				return fmt.Errorf("invalid connection token: %w", err)
			}
			fmt.Fprintf(stdout, "valid connection token for user %q, expire_at %d, channels %v\n", t.UserID, t.ExpireAt, t.Channels)
			return nil
		},
	}
}

func verifierFor(cfg config.Config) (*jwt.Verifier, error) {
	conn, err := jwt.ConfigFromToken(cfg.Client.Token, cfg.Client.InsecureSkipTokenSignatureVerify)
	if err != nil {
		return nil, err
	}
	var sub *jwt.Config
	if cfg.Client.SubscriptionToken.Enabled {
		s, err := jwt.ConfigFromToken(cfg.Client.SubscriptionToken.Token, cfg.Client.InsecureSkipTokenSignatureVerify)
		if err != nil {
			return nil, err
		}
		sub = &s
	}
	return jwt.New(conn, sub)
}
