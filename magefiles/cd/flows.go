package cd

import (
	"context"
	"fmt"

	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
)

// DeployDev is `mage deploy:dev`: a new model trained from the tagged
// commit and served on the dev endpoint.
func DeployDev() []Stage {
	return []Stage{
		LoadConfig{},                            // the dev target of databricks.yml: checked offline
		CheckInputs{Engine: true, Notify: true}, // -engine, notification settings: every input checked before anything changes
		CheckRelease{},                          // the tag on HEAD (or -release): semver
		Connect{},                               // workspace client; refuses another workspace or missing credentials
		CheckCatalog{},                          // Unity Catalog: the target's catalog and schema exist and are usable
		CheckSavedPlan{},                        // -plan=FILE: the saved plan and the live state it was made from still hold
		Approve{},                               // dev needs none: skipped, and says so
		AcquireLock{},                           // one deploy per environment at a time; released at the end
		BeginRecord{},                           // release record in the workspace journal (resumes an interrupted one)
		BundleDeploy{},                          // src/ uploaded; job, experiment, model created or updated; endpoint created if it can be
		Train{},                                 // run the training job with the release, wait, check result_state
		Register{},                              // the trained model as a READY dev version tagged with sha, release, run id
		Serve{},                                 // dev endpoint serves that version at 100% (created if missing), READY
	}
}

// DeployStaging is `mage deploy:staging`: the release dev verified, served
// in staging. In dev's workspace the exact version dev verified is copied
// into the staging model; in a workspace of its own staging trains the
// release from the same commit (RouteTrain: the "deploy code" pattern).
func DeployStaging() []Stage {
	return []Stage{
		LoadConfig{}, // the staging target: checked offline
		CheckInputs{Engine: true, Approve: true, Notify: true}, // -engine, APPROVE, notification settings
		CheckRelease{},   // the tag on HEAD; prereleases may go to staging
		Connect{},        // staging workspace client
		CheckCatalog{},   // Unity Catalog: staging's catalog and schema exist and are usable
		LoadSource{},     // dev's record of this release (dev's credentials): verified, its model version (Unity Catalog: readable here), and the route
		CheckSavedPlan{}, // -plan=FILE: the saved plan and the live state it was made from still hold
		Approve{},        // GitHub environment, terminal confirmation, or -yes
		AcquireLock{},    // staging lock
		BeginRecord{},    // staging release record
		BundleDeploy{},   // staging jobs, model, endpoint definitions
		Train{},          // another workspace: the staging training job at the release's commit (one workspace: skipped)
		Register{},       // another workspace: the trained model as a staging version with lineage tags (one workspace: skipped)
		Promote{},        // Unity Catalog: the promote job copies dev's version, @release_<tag>; one workspace: copy with lineage tags; finds an earlier copy
		Serve{},          // staging endpoint serves it at 100%
	}
}

// DeployProd is `mage deploy:prod`: the release staging verified (copied
// within one workspace, trained from the same commit in a workspace of its
// own) rolled out as a canary judged by the endpoint's own metrics, then
// promoted to all traffic or pulled back.
func DeployProd() []Stage {
	return []Stage{
		LoadConfig{}, // the prod target: checked offline
		CheckInputs{Engine: true, Approve: true, Notify: true, Canary: true, Verify: true}, // -engine, APPROVE, notifications, canary plan, smoke cases
		CheckRelease{},      // a stable tag whose commit is on main
		Connect{},           // prod workspace client
		CheckCatalog{},      // Unity Catalog: prod's catalog and schema exist and are usable
		LoadSource{},        // staging's record of this release (staging's credentials): verified, its model version, and the route
		CheckValidation{},   // the validation gate passed that version (mage validate prod), or -override="why" says why not
		CheckSavedPlan{},    // -plan=FILE: the saved plan and the live state it was made from still hold
		Approve{},           // GitHub environment, terminal confirmation, or -yes
		AcquireLock{},       // prod lock
		BeginRecord{},       // prod release record; deploy started is announced
		Backup{},            // endpoint config, stable version and record to the workspace and artifacts/backups/prod: no backup, no deploy
		BundleDeploy{},      // prod jobs, model, endpoint definitions (never the served versions)
		Train{},             // another workspace: the prod training job at the release's commit (one workspace: skipped)
		Register{},          // another workspace: the trained model as a prod version with lineage tags (one workspace: skipped)
		Promote{},           // Unity Catalog: the promote job copies staging's version; one workspace: copy staging's exact version into the prod model
		Canary{},            // candidate next to stable at canary_traffic_percent, READY (a first release: skipped)
		Analyze{},           // every analysis_interval: metrics export judged, candidate against stable; abort puts stable back
		Serve{Canary: true}, // candidate at 100%, old entity removed, READY (a first release: served directly)
		Smoke{},             // smoke cases against the endpoint; the record becomes stable
	}
}

// DeployStages returns the deploy flow of an environment.
func DeployStages(env string) ([]Stage, error) {
	switch env {
	case EnvDev:
		return DeployDev(), nil
	case EnvStaging:
		return DeployStaging(), nil
	case EnvProd:
		return DeployProd(), nil
	}
	return nil, CheckEnv(env)
}

// VerifyStages is `mage verify:<env>`: the live endpoint checked against
// the integration cases, the load thresholds and its metrics export, and
// the result kept in the environment's release record.
func VerifyStages() []Stage {
	return []Stage{
		LoadConfig{},              // the target: endpoint name, load thresholds
		CheckInputs{Verify: true}, // the cases and the load thresholds, before the record is touched
		Connect{},                 // workspace client
		FindRelease{},             // the environment's latest deploy record (and the tag on HEAD, if any, must match)
		Verify{},                  // integration (or smoke), load, metrics; JUnit + JSON under artifacts/; record updated
	}
}

// Deploy runs `deploy:<env>`.
func Deploy(ctx context.Context, o Options) error {
	stages, err := DeployStages(o.Env)
	if err != nil {
		return err
	}
	env, err := environmentNamed(o.Env)
	if err != nil {
		return err
	}
	if env.RollsOutCanary() && o.Client.RateLimitPerSecond == 0 {
		// The SDK's default 15 requests/s would hold the canary's probes
		// back (a 5 s interval of probes took about 67 s); the probes bound
		// their own rate, cap and concurrency.
		o.Client.RateLimitPerSecond = 1000
	}
	s, err := NewState(ctx, o)
	if err != nil {
		return err
	}
	err = DeployFlow(env, stages).Run(ctx, s)
	s.announceEnd(ctx, err)
	return err
}

// DeployFlow wraps deploy stages: a finished flow records the
// environment's DeploySuccess (prod: stable, after the canary and the
// smoke tests), a failed one failed (an aborted canary: aborted).
func DeployFlow(env Environment, stages []Stage) Flow {
	return Flow{Name: "deploy:" + env.Name(), Stages: stages, Success: env.DeploySuccess(), Failure: release.OutcomeFailed}
}

// RunVerify runs `verify:<env>`.
func RunVerify(ctx context.Context, o Options) error {
	if err := CheckEnv(o.Env); err != nil {
		return err
	}
	if o.Client.RateLimitPerSecond == 0 {
		// The SDK's 15 requests/s would be what the load test measures;
		// the load test bounds its own concurrency and request count.
		o.Client.RateLimitPerSecond = 1000
	}
	s, err := NewState(ctx, o)
	if err != nil {
		return err
	}
	return Flow{Name: "verify:" + o.Env, Stages: VerifyStages()}.Run(ctx, s)
}

// runStages runs stages without a record or banner (plan, status).
func runStages(ctx context.Context, s *State, stages ...Stage) error {
	for _, st := range stages {
		s.current = st.Name()
		if err := st.Run(ctx, s); err != nil {
			if _, ok := IsSkip(err); ok {
				continue
			}
			return fmt.Errorf("%s: %w", st.Name(), err)
		}
	}
	return nil
}
