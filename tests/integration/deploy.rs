//! Deployment: the container image (the Dockerfile, through `scripts/image.sh` and podman) serves
//! a tool over HTTP, and the Kubernetes manifests under `deploy/kubernetes/` pass the Kubernetes
//! JSON schemas offline (`kubernetes-validate` from the peers' venv) and agree with the config.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::Command,
};

use serde_json::Value;

use crate::common::*;

/// The Kubernetes versions the manifests are checked against: the oldest we claim (every field
/// used must exist there) and the newest the validator ships (none may have been removed since).
const KUBERNETES_VERSIONS: [&str; 2] = ["1.30.0", "1.37.0"];

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Skips (printing why) unless the suite requires its peers, in which case it fails.
fn unavailable(why: &str) {
    assert!(
        std::env::var("MCP_REQUIRE_PEERS").as_deref() != Ok("1"),
        "{why}"
    );
    eprintln!("skipping: {why}");
}

fn on_path(command: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(command).is_file()))
}

#[test]
fn the_image_built_from_the_suites_binaries_serves_a_tool_over_http() {
    if !nix::unistd::geteuid().is_root() {
        return unavailable("the image test needs root (debootstrap, rootful podman)");
    }
    let missing: Vec<&str> = ["podman", "runc", "debootstrap", "curl"]
        .into_iter()
        .filter(|c| !on_path(c))
        .collect();
    if !missing.is_empty() {
        return unavailable(&format!(
            "the image test needs {} (scripts/setup-system.sh test installs them)",
            missing.join(", ")
        ));
    }
    // The three binaries the image carries, from the debug build the suite made anyway (cargo
    // build is a no-op then), and the fixture the test mounts as a child.
    let fixture = fixture_bin();
    vendor_bin();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = Command::new(cargo)
        .args(["build", "--quiet", "-p", "mcp-local-llama"])
        .current_dir(repo())
        .status()
        .expect("run cargo build for mcp-local-llama");
    assert!(built.success(), "building mcp-local-llama failed");
    let bin_dir = orchestrator_bin().parent().expect("target dir").to_owned();
    let started = std::time::Instant::now();
    let out = Command::new("bash")
        .arg(repo().join("scripts/image.sh"))
        .arg("test")
        .arg(&bin_dir)
        .env("FIXTURE", &fixture)
        .output()
        .expect("run scripts/image.sh");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{log}image test: {:.1} s", started.elapsed().as_secs_f64());
    assert!(out.status.success(), "scripts/image.sh test failed:\n{log}");
    for line in [
        "ok: /health answered {\"status\":\"ok\"} without a token",
        "ok: /mcp refuses a missing token (401) and a Host not on the list (403)",
        "ok: tools/call fx__echo answered \"echo: through the image\"",
        "ok: the image's HEALTHCHECK passes",
        "ok: serve runs as uid 10001",
        "ok: it runs with a read-only root filesystem, its store in the state volume",
        "ok: the shared libraries of all three binaries are in the image",
        "all 10 checks passed",
    ] {
        assert!(log.contains(line), "missing {line:?} in:\n{log}");
    }
}

/// The venv's `kubernetes-validate`, or `None` when the test cannot run here.
fn kubernetes_validate() -> Option<PathBuf> {
    let python = peers_python()?;
    let tool = python.with_file_name("kubernetes-validate");
    if tool.exists() {
        return Some(tool);
    }
    unavailable("kubernetes-validate is not in the peers' venv: run scripts/setup-mcp-peers.sh");
    None
}

/// Validates `files` strictly (unknown fields are errors) against one Kubernetes version; the
/// number of resources that passed, or why not. A kind or apiVersion the schemas do not know is
/// only a warning to the tool (exit 0), so any warning counts as a failure here: a manifest
/// using an API the cluster version lacks must not pass.
fn validate(tool: &Path, version: &str, files: &[PathBuf]) -> Result<usize, String> {
    let out = Command::new(tool)
        .args(["--strict", "--kubernetes-version", version])
        .args(files)
        .output()
        .expect("run kubernetes-validate");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() || text.contains("WARN") || text.contains("ERROR") {
        return Err(text);
    }
    Ok(text
        .lines()
        .filter(|l| l.contains(" passed for resource "))
        .count())
}

fn manifests_dir() -> PathBuf {
    repo().join("deploy/kubernetes")
}

/// Every manifest under deploy/kubernetes (kustomization.yaml is kustomize's, not Kubernetes').
fn manifests() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(manifests_dir())
        .expect("deploy/kubernetes")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .filter(|p| p.file_name().is_some_and(|n| n != "kustomization.yaml"))
        .collect();
    files.sort();
    files
}

/// The YAML documents of a manifest file, as JSON values.
fn documents(path: &Path) -> Vec<Value> {
    use serde::Deserialize;
    let text = std::fs::read_to_string(path).unwrap();
    serde_norway::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .collect()
}

fn resource(kind: &str, name: &str) -> Value {
    manifests()
        .iter()
        .flat_map(|p| documents(p))
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} under deploy/kubernetes"))
}

#[test]
fn kubernetes_manifests_pass_the_schemas_strictly_and_a_broken_one_fails() {
    let Some(tool) = kubernetes_validate() else {
        return;
    };
    let files = manifests();
    let resources: usize = files.iter().map(|f| documents(f).len()).sum();
    assert!(resources >= 8, "{files:?}");
    for version in KUBERNETES_VERSIONS {
        let passed = validate(&tool, version, &files)
            .unwrap_or_else(|e| panic!("the manifests fail on Kubernetes {version}:\n{e}"));
        assert_eq!(
            passed, resources,
            "every resource is validated on {version}"
        );
    }

    // The check can fail: a misspelt field (which plain, non-strict validation lets through)
    // and an API version this Kubernetes no longer serves.
    let dir = tempfile::tempdir().unwrap();
    let deployment = std::fs::read_to_string(manifests_dir().join("deployment.yaml")).unwrap();
    let misspelt = deployment.replacen(
        "terminationGracePeriodSeconds:",
        "terminationGracePeriodSecond:",
        1,
    );
    assert_ne!(misspelt, deployment);
    let broken = dir.path().join("deployment.yaml");
    std::fs::write(&broken, misspelt).unwrap();
    let e = validate(&tool, KUBERNETES_VERSIONS[0], &[broken]).unwrap_err();
    assert!(e.contains("terminationGracePeriodSecond"), "{e}");
    let hpa = std::fs::read_to_string(manifests_dir().join("hpa.yaml")).unwrap();
    let removed = hpa.replacen("autoscaling/v2\n", "autoscaling/v2beta2\n", 1);
    assert_ne!(removed, hpa);
    let broken = dir.path().join("hpa.yaml");
    std::fs::write(&broken, removed).unwrap();
    let e = validate(&tool, KUBERNETES_VERSIONS[1], &[broken]).unwrap_err();
    assert!(e.contains("v2beta2"), "{e}");
}

#[test]
fn kustomization_lists_every_manifest_but_the_secret_example() {
    let k = documents(&manifests_dir().join("kustomization.yaml"));
    let listed: BTreeSet<String> = k[0]["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .map(|r| r.as_str().unwrap().to_owned())
        .collect();
    let present: BTreeSet<String> = manifests()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .filter(|n| n != "secret.example.yaml")
        .collect();
    assert_eq!(listed, present);
}

/// The ConfigMap's config is a valid config for this orchestrator (its own `check`, with the
/// environment the Deployment gives it from the example Secrets), loads the workflows
/// ConfigMap's files, and keeps the default config's vendor servers.
#[test]
fn the_configmaps_config_passes_check_with_the_deployments_environment() {
    let config_map = resource("ConfigMap", "mcp-orchestrator-config");
    let mut config: Value =
        serde_json::from_str(config_map["data"]["mcp_servers.json"].as_str().unwrap()).unwrap();

    let default: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("config/mcp_servers.json")).unwrap(),
    )
    .unwrap();
    let mut expected = default["servers"].clone();
    expected.as_object_mut().unwrap().remove("local_llama");
    assert_eq!(
        config["servers"], expected,
        "the ConfigMap's servers drifted from config/mcp_servers.json"
    );

    // The workflows ConfigMap's mount point, here a temporary directory.
    let dir = tempfile::tempdir().unwrap();
    let workflows = dir.path().join("workflows");
    std::fs::create_dir(&workflows).unwrap();
    let files = resource("ConfigMap", "mcp-orchestrator-workflows");
    let files = files["data"].as_object().unwrap();
    for (name, text) in files {
        std::fs::write(workflows.join(name), text.as_str().unwrap()).unwrap();
    }
    let deployment = resource("Deployment", "mcp-orchestrator");
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    let mounted = container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "workflows")
        .expect("a workflows mount");
    assert_eq!(config["workflows"]["dir"], mounted["mountPath"]);
    config["workflows"]["dir"] = Value::from(workflows.to_str().unwrap());
    let path = dir.path().join("mcp_servers.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();

    // The Deployment's environment: each variable from a Secret key gets the example Secret's
    // value. Every variable a server requires must be one of them, or it could never start.
    let secrets: Vec<Value> = documents(&manifests_dir().join("secret.example.yaml"));
    let env: Vec<(String, String)> = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| {
            let r = &e["valueFrom"]["secretKeyRef"];
            let secret = secrets
                .iter()
                .find(|s| s["metadata"]["name"] == r["name"])?;
            let value = secret["stringData"][r["key"].as_str()?].as_str()?;
            Some((e["name"].as_str()?.to_owned(), value.to_owned()))
        })
        .collect();
    let names: BTreeSet<&str> = env.iter().map(|(n, _)| n.as_str()).collect();
    for (id, server) in config["servers"].as_object().unwrap() {
        for var in server["required_env"].as_array().into_iter().flatten() {
            let var = var.as_str().unwrap();
            assert!(
                names.contains(var),
                "{id} requires {var}, which the Deployment does not take from a Secret"
            );
        }
    }
    assert!(names.contains("MCP_ORCHESTRATOR_STORE_URL"));
    assert!(names.contains("MCP_ORCHESTRATOR_HTTP_TOKEN"));

    let out = Command::new(orchestrator_bin())
        .args(["--config", path.to_str().unwrap(), "check"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .envs(env)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "check refused the ConfigMap's config:\n{said}"
    );
    assert!(
        said.contains(&format!("{} workflows", files.len())),
        "{said}"
    );
}
