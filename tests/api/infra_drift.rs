//! Drift test: the Bicep in `infra/` must give the handler what it needs in Azure.
//!
//! The list of settings comes from the handler itself (`handler::config::SETTINGS`), so adding a
//! setting there without deploying it, or renaming a table on one side only, fails here, long
//! before a deployment does. The Bicep is read as text with a small tokenizer below (strings,
//! comments and brackets are understood; there is no full Bicep parser), std only.
//!
//! What is checked:
//! - every setting with `deploy == Deploy::AppSetting` is an app setting of the function app
//!   (`appSettings: [ { name: 'X', value: ... } ]` in `siteConfig`, or a key of an
//!   `appSettings: { X: ... }` object, or of a `Microsoft.Web/sites/config` 'appsettings' resource);
//! - every setting named `*_TABLE` has its default created as a table resource, every `*_CONTAINER`
//!   as a blob container resource;
//! - the function app's runtime (`functionAppConfig.runtime`) comes from main.bicep's
//!   `functionAppRuntime` / `functionAppRuntimeVersion` parameters, whose defaults match
//!   `infra/main.parameters.json`, deploy.yml checks that pair against the region's Flex catalog,
//!   and host.json has the `customHandler` section that makes the host run the handler under any
//!   runtime; neither `FUNCTIONS_WORKER_RUNTIME` nor `FUNCTIONS_EXTENSION_VERSION` is set (Flex
//!   Consumption rejects them);
//! - role assignments are named `guid(scope, <principal id>, <role>)` with the same principal id
//!   expression they grant (not the identity's resource id);
//! - no `output` exposes a key, a connection string or a `list*()` result;
//! - deny by default (`vnetEnabled`, default `true`): the storage account deployed with the
//!   defaults has `publicNetworkAccess: 'Disabled'` and `networkAcls.defaultAction: 'Deny'` as
//!   literals, and a public account may exist only as the `vnetEnabled=false` alternative; private
//!   endpoints exist for blob, queue and table, with `privatelink.*` DNS zones, VNet links and zone
//!   groups; the app sets `virtualNetworkSubnetId` from a subnet delegated to
//!   `Microsoft.App/environments`; that subnet has a NAT gateway with a static Standard public IP
//!   (`natGatewayEnabled`, default `true`) as its explicit outbound path;
//! - the caller allow-list (`allowedIpRanges`, default empty) becomes `ipSecurityRestrictions`
//!   ending in a deny-all, and the SCM site keeps its own rules (`scmIpSecurityRestrictionsUseMain: false`).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use handler::config::{Deploy, SETTINGS};

// ---------------------------------------------------------------------------------------------
// The checks
// ---------------------------------------------------------------------------------------------

#[test]
fn every_app_setting_the_handler_needs_is_set_in_the_bicep() {
    let files = bicep_files();
    let app_settings = app_setting_names(&files);
    assert!(
        !app_settings.is_empty(),
        "found no app settings in {}: the function app should declare them as \
         `siteConfig.appSettings: [ {{ name: 'X', value: ... }} ]` (infra/modules/functionapp.bicep); \
         if the Bicep now expresses them differently, teach tests/api/infra_drift.rs that form",
        describe(&files)
    );
    let missing: Vec<&str> = SETTINGS
        .iter()
        .filter(|s| s.deploy == Deploy::AppSetting)
        .map(|s| s.name)
        .filter(|name| !app_settings.contains(*name))
        .collect();
    assert!(
        missing.is_empty(),
        "settings that handler::config::SETTINGS marks Deploy::AppSetting but the Bicep does not set: \
         {missing:?}. Add each as `{{ name: 'NAME', value: ... }}` to siteConfig.appSettings in \
         infra/modules/functionapp.bicep, or mark it Deploy::Host / Deploy::LocalOnly in \
         handler/config.rs if Azure should not get it. App settings found: {app_settings:?}"
    );
}

#[test]
fn every_table_and_container_setting_has_its_default_created() {
    let files = bicep_files();
    let tables = resource_names(&files, "/tableservices/tables@");
    let containers = resource_names(&files, "/blobservices/containers@");
    let mut problems = Vec::new();
    for setting in SETTINGS {
        let (kind, created) = if setting.name.ends_with("_TABLE") {
            ("table", &tables)
        } else if setting.name.ends_with("_CONTAINER") {
            ("blob container", &containers)
        } else {
            continue;
        };
        match setting.default {
            None => problems.push(format!(
                "{} has no default, so the Bicep cannot be checked against it: give it a default \
                 in handler/config.rs equal to the {kind} name the Bicep creates",
                setting.name
            )),
            Some(default) if !created.contains(default) => problems.push(format!(
                "{} defaults to '{default}' but no {kind} named '{default}' is created: add a \
                 `Microsoft.Storage/storageAccounts/{}` resource named '{default}' to \
                 infra/modules/storage.bicep, or change the default in handler/config.rs",
                setting.name,
                if kind == "table" {
                    "tableServices/tables"
                } else {
                    "blobServices/containers"
                }
            )),
            Some(_) => {}
        }
    }
    assert!(
        problems.is_empty(),
        "{}\n(tables in the Bicep: {tables:?}; blob containers: {containers:?})",
        problems.join("\n")
    );
}

#[test]
fn the_function_app_takes_its_runtime_from_parameters_and_runs_as_a_custom_handler() {
    let files = bicep_files();
    let main = main_file(&files);
    // main.bicep: `param functionAppRuntime string = '...'` and `param functionAppRuntimeVersion string = '...'`.
    let mut defaults = Vec::new();
    for param in ["functionAppRuntime", "functionAppRuntimeVersion"] {
        let default = match param_default(&main.toks, param) {
            Some(Tok::Str {
                value,
                interpolated: false,
            }) => value,
            other => panic!(
                "infra/main.bicep must declare `param {param} string = '<default>'` (the Flex \
                 Consumption runtime, checked against the region's catalog by deploy.yml); found \
                 default {other:?}"
            ),
        };
        assert!(!default.is_empty(), "param {param} has an empty default");
        defaults.push(default);
    }
    // infra/main.parameters.json, which deploy.yml passes and reads for its catalog check, agrees.
    let params_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("infra/main.parameters.json");
    let params: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(&params_path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", params_path.display())),
    )
    .unwrap_or_else(|e| panic!("{} is not JSON: {e}", params_path.display()));
    for (param, default) in ["functionAppRuntime", "functionAppRuntimeVersion"]
        .iter()
        .zip(&defaults)
    {
        let value = params["parameters"][param]["value"].as_str();
        assert_eq!(
            value,
            Some(default.as_str()),
            "infra/main.parameters.json must set {param} to the same value as main.bicep's default \
             ('{default}'): deploy.yml reads it from there for the Flex catalog check"
        );
    }
    // The function app's functionAppConfig.runtime is the module parameters, fed from those params.
    let runtimes = function_app_runtime_values(&files);
    assert!(
        !runtimes.is_empty(),
        "no `functionAppConfig: {{ runtime: {{ name: ..., version: ... }} }}` in {}",
        describe(&files)
    );
    for (file, name, version) in &runtimes {
        let (Some(Tok::Ident(name)), Some(Tok::Ident(version))) = (name, version) else {
            panic!(
                "{}: functionAppConfig.runtime must take name and version from parameters (fed \
                 from main.bicep's functionAppRuntime / functionAppRuntimeVersion), not literals; \
                 found name {name:?}, version {version:?}",
                file.display()
            );
        };
        let target = files
            .iter()
            .find(|f| &f.path == file)
            .expect("file is listed");
        let (holder, module) = module_deploying(&files, target)
            .unwrap_or_else(|| panic!("no `module` deploys {}", file.display()));
        for (inner, outer) in [
            (name, "functionAppRuntime"),
            (version, "functionAppRuntimeVersion"),
        ] {
            assert_eq!(
                module.param_value(&holder.toks, inner),
                Some(vec![Tok::Ident(outer.into())]),
                "{} must pass `{inner}: {outer}` to {}",
                holder.path.display(),
                file.display()
            );
        }
    }
    // host.json makes the host run the handler whatever the runtime name is.
    let host_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("host.json");
    let host: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(&host_path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", host_path.display())),
    )
    .unwrap_or_else(|e| panic!("{} is not JSON: {e}", host_path.display()));
    assert!(
        host["customHandler"]["description"]["defaultExecutablePath"]
            .as_str()
            .is_some_and(|p| !p.is_empty()),
        "host.json must have customHandler.description.defaultExecutablePath: with it the Functions \
         host runs the handler as a custom handler under any Flex runtime (node, custom, ...)"
    );
    // deploy.yml checks the pair against the region's catalog before deploying.
    let deploy_path = Path::new(env!("CARGO_MANIFEST_DIR")).join(".github/workflows/deploy.yml");
    let deploy = fs::read_to_string(&deploy_path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", deploy_path.display()));
    for needle in [
        "list-flexconsumption-runtimes",
        "functionAppRuntime",
        "functionAppRuntimeVersion",
    ] {
        assert!(
            deploy.contains(needle),
            "{} should check the runtime against the region's Flex catalog (`az functionapp \
             list-flexconsumption-runtimes`, with functionAppRuntime / functionAppRuntimeVersion \
             from infra/main.parameters.json) before deploying; '{needle}' not found",
            deploy_path.display()
        );
    }
    // No worker-runtime app settings.
    let app_settings = app_setting_names(&files);
    for forbidden in ["FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION"] {
        assert!(
            !app_settings.contains(forbidden),
            "remove the app setting {forbidden} from the Bicep: Flex Consumption rejects it, the \
             runtime comes from functionAppConfig.runtime"
        );
        for file in &files {
            assert!(
                !file.mentions(forbidden),
                "{} uses '{forbidden}' outside a comment: Flex Consumption rejects that app setting \
                 (the runtime comes from functionAppConfig.runtime); remove it",
                file.path.display()
            );
        }
    }
}

#[test]
fn role_assignment_names_come_from_the_principal_id_they_grant() {
    let files = bicep_files();
    let mut count = 0;
    for file in &files {
        let toks = &file.toks;
        for res in resources(toks) {
            if res.existing
                || !res
                    .type_lower
                    .starts_with("microsoft.authorization/roleassignments@")
            {
                continue;
            }
            count += 1;
            let (open, close) = if res.is_loop {
                // [for x in SOURCE: { ... }]: the body is the last object before the closing `]`.
                let body = (res.open + 1..res.close)
                    .rev()
                    .find(|&k| {
                        toks[k] == Tok::Punct('{') && matching_close(toks, k) == Some(res.close - 1)
                    })
                    .unwrap_or_else(|| panic!("{}: unreadable loop", file.path.display()));
                (body, res.close - 1)
            } else {
                (res.open, res.close)
            };
            let principal = value_at(toks, open, close, &["properties", "principalId"])
                .map(|v| expression_at(toks, v))
                .unwrap_or_else(|| {
                    panic!(
                        "{}: a role assignment without properties.principalId",
                        file.path.display()
                    )
                });
            let name = value_index(toks, open, close, "name")
                .map(|v| expression_at(toks, v))
                .unwrap_or_default();
            let args = call_arguments(&name, "guid").unwrap_or_else(|| {
                panic!(
                    "{}: name the role assignment `guid(<scope>.id, <principal id>, <role>)`; found {name:?}",
                    file.path.display()
                )
            });
            assert!(
                args.len() == 3 && args[1] == principal,
                "{}: the role assignment's name must be guid(<scope>.id, {principal:?}, <role \
                 definition id>), with the same principal id expression as properties.principalId \
                 (as the Flex samples do): a name built from the identity's resource id survives a \
                 recreated identity and then fails with RoleAssignmentUpdateNotPermitted. Found \
                 guid arguments {args:?}",
                file.path.display()
            );
        }
    }
    assert!(
        count > 0,
        "no Microsoft.Authorization/roleAssignments in {}: the app's identity needs its data roles",
        describe(&files)
    );
}

#[test]
fn no_output_exposes_a_key_or_connection_string() {
    let files = bicep_files();
    let mut problems = Vec::new();
    let mut count = 0;
    for file in &files {
        for output in outputs(&file.toks) {
            count += 1;
            if let Some(why) = secret_in_output(&output.toks) {
                problems.push(format!(
                    "{}: output '{}' exposes {why}; outputs end up in the deployment history, \
                     readable by anyone with read access to the resource group. Output a name or a \
                     resource id instead, and read the secret where it is used",
                    file.path.display(),
                    output.name
                ));
            }
        }
    }
    assert!(
        count > 0,
        "found no `output` in {}: main.bicep should output the app name, its hostname and the storage account name",
        describe(&files)
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn with_the_defaults_storage_has_no_public_network_path() {
    let files = bicep_files();
    let main = main_file(&files);
    assert_eq!(
        param_default(&main.toks, "vnetEnabled"),
        Some(Tok::Ident("true".into())),
        "infra/main.bicep must declare `param vnetEnabled bool = true`: deny by default (private \
         storage, app in the VNet); vnetEnabled=false is the opt-in public trial setup"
    );
    let mut private = Vec::new();
    let mut public = Vec::new();
    for file in &files {
        for res in resources(&file.toks) {
            if res.existing
                || res.is_loop
                || !res
                    .type_lower
                    .starts_with("microsoft.storage/storageaccounts@")
            {
                continue;
            }
            let access = literal_at(
                &file.toks,
                res.open,
                res.close,
                &["properties", "publicNetworkAccess"],
            );
            let default_action = literal_at(
                &file.toks,
                res.open,
                res.close,
                &["properties", "networkAcls", "defaultAction"],
            );
            if access.as_deref() == Some("Disabled") && default_action.as_deref() == Some("Deny") {
                private.push(file);
            } else {
                public.push((file, access, default_action));
            }
        }
    }
    assert!(
        !private.is_empty(),
        "no storage account in infra/ declares `publicNetworkAccess: 'Disabled'` and \
         `networkAcls: {{ defaultAction: 'Deny' }}` as literals; the default deployment \
         (vnetEnabled=true) must have no public network path to storage \
         (infra/modules/storage-account-private.bicep). Accounts found: {:?}",
        public
            .iter()
            .map(|(f, a, d)| format!(
                "{}: publicNetworkAccess {a:?}, defaultAction {d:?}",
                f.path.display()
            ))
            .collect::<Vec<_>>()
    );
    if public.is_empty() {
        return;
    }
    // A public account is allowed only as the vnetEnabled=false alternative: the private and the
    // public account files are deployed by modules under opposite conditions `if (X)` / `if (!X)`,
    // and main.bicep passes `X: vnetEnabled` to the file that declares those modules.
    let private_file = private[0];
    let (holder, private_module) = module_deploying(&files, private_file)
        .unwrap_or_else(|| panic!("no `module` deploys {}", private_file.path.display()));
    let flag = match private_module.condition.as_slice() {
        [Tok::Ident(x)] => x.clone(),
        other => panic!(
            "{}: the module for {} should be deployed `if (FLAG)` with a bool parameter FLAG that \
             main.bicep sets from vnetEnabled; found condition {other:?}",
            holder.path.display(),
            private_file.path.display()
        ),
    };
    for (file, access, default_action) in &public {
        let (public_holder, module) = module_deploying(&files, file)
            .unwrap_or_else(|| panic!("no `module` deploys {}", file.path.display()));
        assert!(
            public_holder.path == holder.path
                && module.condition == [Tok::Punct('!'), Tok::Ident(flag.clone())],
            "{} declares a storage account with publicNetworkAccess {access:?} / defaultAction \
             {default_action:?}; it may only be deployed `if (!{flag})` next to the private account's \
             module in {}, i.e. only with vnetEnabled=false",
            file.path.display(),
            holder.path.display()
        );
    }
    let (_, storage_module) = module_deploying(&files, holder)
        .unwrap_or_else(|| panic!("no `module` deploys {}", holder.path.display()));
    let passed = storage_module.param_value(&main.toks, &flag);
    assert_eq!(
        passed,
        Some(vec![Tok::Ident("vnetEnabled".into())]),
        "infra/main.bicep must pass `{flag}: vnetEnabled` to {}, so that the default \
         (vnetEnabled=true) deploys the private storage account",
        holder.path.display()
    );
}

#[test]
fn with_the_defaults_storage_is_reached_through_private_endpoints() {
    let files = bicep_files();
    let main = main_file(&files);
    let mut services = BTreeSet::new();
    let mut endpoint_files = Vec::new();
    let mut zones = Vec::new();
    let has = |fragment: &str| -> bool {
        files.iter().any(|f| {
            resources(&f.toks)
                .iter()
                .any(|r| !r.existing && r.type_lower.contains(fragment))
        })
    };
    let links = has("microsoft.network/privatednszones/virtualnetworklinks@");
    let zone_groups = has("microsoft.network/privateendpoints/privatednszonegroups@");
    for file in &files {
        let toks = &file.toks;
        for res in resources(toks) {
            if res.existing {
                continue;
            }
            if res
                .type_lower
                .starts_with("microsoft.network/privateendpoints@")
            {
                endpoint_files.push(file);
                let body = &toks[res.open..res.close];
                let group_ids = (0..body.len())
                    .find(|&k| is_key_at(body, k, "groupIds"))
                    .map(|k| k + 2);
                let Some(g) = group_ids else { continue };
                let Some(end) = matching_close(body, g) else {
                    continue;
                };
                let literals = string_literals(&body[g..end]);
                if literals.is_empty() && res.is_loop {
                    services.extend(loop_source_literals(toks, &res));
                } else {
                    services.extend(literals);
                }
            } else if res
                .type_lower
                .starts_with("microsoft.network/privatednszones@")
            {
                let name = value_index(toks, res.open, res.close, "name").or_else(|| {
                    // [for x in xs: { name: ... }]
                    let body = (res.open + 1..res.close).find(|&k| toks[k] == Tok::Punct('{'))?;
                    value_index(toks, body, matching_close(toks, body)?, "name")
                });
                if let Some(Tok::Str { value, .. }) = name.map(|n| &toks[n]) {
                    zones.push(value.clone());
                }
            }
        }
    }
    let missing: Vec<&str> = ["blob", "queue", "table"]
        .into_iter()
        .filter(|s| !services.contains(*s))
        .collect();
    assert!(
        missing.is_empty(),
        "no private endpoint (Microsoft.Network/privateEndpoints with groupIds [ '<service>' ]) for \
         the storage services {missing:?}: the app needs blob (host storage, deployment package, \
         uploads), queue (host) and table (records, users, sessions) through the VNet once public \
         access is Disabled. Services found: {services:?}"
    );
    assert!(
        zones.iter().any(|z| z.starts_with("privatelink.")),
        "no private DNS zone named privatelink.<service>.<storage suffix>: without it the storage \
         host names do not resolve to the private endpoints inside the VNet; zones found: {zones:?}"
    );
    assert!(
        links && zone_groups,
        "each private DNS zone needs a virtualNetworkLinks child (so the VNet uses it) and each \
         private endpoint a privateDnsZoneGroups child (so its A record is registered); found \
         links: {links}, zone groups: {zone_groups}"
    );
    for file in endpoint_files {
        let Some((holder, module)) = module_deploying(&files, file) else {
            continue; // declared in main.bicep itself
        };
        assert!(
            holder.path == main.path && module.condition == [Tok::Ident("vnetEnabled".into())],
            "{} (the private endpoints) should be deployed from infra/main.bicep `if (vnetEnabled)`; \
             found it deployed from {} with condition {:?}",
            file.path.display(),
            holder.path.display(),
            module.condition
        );
    }
}

#[test]
fn with_the_defaults_the_app_joins_the_vnet() {
    let files = bicep_files();
    let mut site_files = Vec::new();
    for file in &files {
        for res in resources(&file.toks) {
            if !res.existing && !res.is_loop && res.type_lower.starts_with("microsoft.web/sites@") {
                assert!(
                    value_at(
                        &file.toks,
                        res.open,
                        res.close,
                        &["properties", "virtualNetworkSubnetId"]
                    )
                    .is_some(),
                    "{}: the function app must set properties.virtualNetworkSubnetId (the VNet \
                     integration subnet) so that it reaches the private storage endpoints",
                    file.path.display()
                );
                site_files.push(file);
            }
        }
    }
    assert!(
        !site_files.is_empty(),
        "no Microsoft.Web/sites resource in {}",
        describe(&files)
    );
    for file in site_files {
        let Some((holder, module)) = module_deploying(&files, file) else {
            continue;
        };
        let passed = module.param_value(&holder.toks, "virtualNetworkSubnetId");
        assert!(
            passed.as_ref().is_some_and(|v| v.contains(&Tok::Ident("vnetEnabled".into()))),
            "{} must pass `virtualNetworkSubnetId: vnetEnabled ? <app subnet id> : ''` to {}; found {passed:?}",
            holder.path.display(),
            file.path.display()
        );
    }
    let delegated = files.iter().any(|f| {
        resources(&f.toks).iter().any(|r| {
            r.type_lower
                .starts_with("microsoft.network/virtualnetworks")
                && string_literals(&f.toks[r.open..r.close])
                    .iter()
                    .any(|s| s == "Microsoft.App/environments")
        })
    });
    assert!(
        delegated,
        "no virtual network subnet delegated to 'Microsoft.App/environments', which Flex \
         Consumption VNet integration requires (infra/modules/network.bicep)"
    );
}

#[test]
fn with_the_defaults_the_app_subnet_leaves_through_a_nat_gateway() {
    let files = bicep_files();
    let main = main_file(&files);
    assert_eq!(
        param_default(&main.toks, "natGatewayEnabled"),
        Some(Tok::Ident("true".into())),
        "infra/main.bicep must declare `param natGatewayEnabled bool = true`: with the VNet, the \
         app's outbound internet traffic needs an explicit path (default outbound access is being \
         retired for new virtual networks)"
    );
    let params_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("infra/main.parameters.json");
    let params: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&params_path).expect("main.parameters.json"))
            .expect("main.parameters.json is JSON");
    assert_ne!(
        params["parameters"]["natGatewayEnabled"]["value"].as_bool(),
        Some(false),
        "infra/main.parameters.json turns the NAT gateway off; the default deployment should have it"
    );
    let mut nat_files = Vec::new();
    let mut static_standard_ip = false;
    let mut subnet_uses_nat = false;
    for file in &files {
        let toks = &file.toks;
        for res in resources(toks) {
            if res.existing || res.is_loop {
                continue;
            }
            if res.type_lower.starts_with("microsoft.network/natgateways@") {
                assert!(
                    value_at(
                        toks,
                        res.open,
                        res.close,
                        &["properties", "publicIpAddresses"]
                    )
                    .is_some(),
                    "{}: the NAT gateway needs properties.publicIpAddresses (its outbound address)",
                    file.path.display()
                );
                nat_files.push(file);
            } else if res
                .type_lower
                .starts_with("microsoft.network/publicipaddresses@")
            {
                static_standard_ip |= literal_at(
                    toks,
                    res.open,
                    res.close,
                    &["properties", "publicIPAllocationMethod"],
                )
                .as_deref()
                    == Some("Static")
                    && literal_at(toks, res.open, res.close, &["sku", "name"]).as_deref()
                        == Some("Standard");
            } else if res
                .type_lower
                .starts_with("microsoft.network/virtualnetworks@")
            {
                // The subnet delegated to Microsoft.App/environments (the app's) has `natGateway:`.
                let body = &toks[res.open..res.close];
                for k in 0..body.len() {
                    if body[k] != Tok::Punct('{') {
                        continue;
                    }
                    let Some(end) = matching_close(body, k) else {
                        continue;
                    };
                    let Some(props) = value_index(body, k, end, "properties") else {
                        continue;
                    };
                    let Some(props_end) = matching_close(body, props) else {
                        continue;
                    };
                    let delegated = string_literals(&body[props..props_end])
                        .iter()
                        .any(|s| s == "Microsoft.App/environments");
                    if delegated && value_index(body, props, props_end, "natGateway").is_some() {
                        subnet_uses_nat = true;
                    }
                }
            }
        }
    }
    assert!(
        !nat_files.is_empty(),
        "no Microsoft.Network/natGateways resource in {}: the app subnet needs an explicit outbound \
         path (infra/modules/network.bicep)",
        describe(&files)
    );
    assert!(
        static_standard_ip,
        "no Microsoft.Network/publicIPAddresses with sku.name 'Standard' and \
         properties.publicIPAllocationMethod 'Static' (literals): the NAT gateway's address should \
         be known and stable"
    );
    assert!(
        subnet_uses_nat,
        "the subnet delegated to Microsoft.App/environments (the app's VNet integration) does not \
         set properties.natGateway"
    );
    for file in nat_files {
        let Some((holder, module)) = module_deploying(&files, file) else {
            continue;
        };
        assert_eq!(
            module.param_value(&holder.toks, "natGatewayEnabled"),
            Some(vec![Tok::Ident("natGatewayEnabled".into())]),
            "{} must pass `natGatewayEnabled: natGatewayEnabled` to {}",
            holder.path.display(),
            file.path.display()
        );
    }
}

#[test]
fn the_caller_allow_list_ends_in_deny_all_and_leaves_the_scm_site_its_own_rules() {
    let files = bicep_files();
    let main = main_file(&files);
    assert!(
        param_default(&main.toks, "allowedIpRanges") == Some(Tok::Punct('[')),
        "infra/main.bicep must declare `param allowedIpRanges array = []` (empty: open to every address)"
    );
    let mut found_site = false;
    for file in &files {
        let toks = &file.toks;
        for res in resources(toks) {
            if res.existing || res.is_loop || !res.type_lower.starts_with("microsoft.web/sites@") {
                continue;
            }
            found_site = true;
            let config = ["properties", "siteConfig"];
            assert!(
                value_at(
                    toks,
                    res.open,
                    res.close,
                    &[&config[..], &["ipSecurityRestrictions"]].concat()
                )
                .is_some(),
                "{}: siteConfig.ipSecurityRestrictions is missing (allowedIpRanges + deny-all)",
                file.path.display()
            );
            let use_main = value_at(
                toks,
                res.open,
                res.close,
                &[&config[..], &["scmIpSecurityRestrictionsUseMain"]].concat(),
            );
            assert_eq!(
                use_main.map(|v| &toks[v]),
                Some(&Tok::Ident("false".into())),
                "{}: set siteConfig.scmIpSecurityRestrictionsUseMain to false, so that an allow-list \
                 for callers does not lock CI's deployment (Kudu /api/publish) out",
                file.path.display()
            );
            // An object { ... action: 'Deny', ipAddress: 'Any' ... } in the same file: the deny-all.
            let deny_all = (0..toks.len()).any(|k| {
                toks[k] == Tok::Punct('{')
                    && matching_close(toks, k).is_some_and(|end| {
                        literal_value_of(toks, k, end, "action").as_deref() == Some("Deny")
                            && literal_value_of(toks, k, end, "ipAddress").as_deref() == Some("Any")
                    })
            });
            assert!(
                deny_all,
                "{}: no final deny-all rule (`{{ ipAddress: 'Any', action: 'Deny', ... }}`) after \
                 the allowed ranges",
                file.path.display()
            );
        }
    }
    assert!(
        found_site,
        "no Microsoft.Web/sites resource in {}",
        describe(&files)
    );
}

// ---------------------------------------------------------------------------------------------
// Reading infra/
// ---------------------------------------------------------------------------------------------

struct BicepFile {
    path: PathBuf,
    toks: Vec<Tok>,
}

impl BicepFile {
    /// True when `word` is an identifier, or the whole of a string, anywhere outside comments.
    fn mentions(&self, word: &str) -> bool {
        self.toks.iter().any(|t| match t {
            Tok::Ident(s) => s == word,
            Tok::Str { value, .. } => value == word,
            _ => false,
        })
    }
}

fn bicep_files() -> Vec<BicepFile> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("infra");
    let mut paths = Vec::new();
    collect_bicep(&root, &mut paths);
    paths.sort();
    assert!(
        !paths.is_empty(),
        "no .bicep files under {}: the infrastructure lives in infra/main.bicep and infra/modules/",
        root.display()
    );
    paths
        .into_iter()
        .map(|path| {
            let text = fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            let toks = tokenize(&text).unwrap_or_else(|e| {
                panic!(
                    "{}: {e} (fix the Bicep, or the tokenizer in tests/api/infra_drift.rs)",
                    path.display()
                )
            });
            BicepFile { path, toks }
        })
        .collect()
}

fn collect_bicep(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries =
        fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    for entry in entries {
        let path = entry
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
            .path();
        if path.is_dir() {
            collect_bicep(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "bicep") {
            out.push(path);
        }
    }
}

fn describe(files: &[BicepFile]) -> String {
    let names: Vec<String> = files.iter().map(|f| f.path.display().to_string()).collect();
    names.join(", ")
}

// ---------------------------------------------------------------------------------------------
// What the Bicep declares
// ---------------------------------------------------------------------------------------------

/// Names of all app settings: `appSettings: [ { name: 'X' ... } ]` arrays, `appSettings: { X: ... }`
/// objects, and `Microsoft.Web/sites/config` resources named 'appsettings'.
fn app_setting_names(files: &[BicepFile]) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for file in files {
        let toks = &file.toks;
        for i in 0..toks.len() {
            if !is_key_at(toks, i, "appSettings") {
                continue;
            }
            let open = i + 2;
            let Some(close) = matching_close(toks, open) else {
                continue;
            };
            match toks[open] {
                Tok::Punct('[') => {
                    for element in depth1_indices(toks, open, close) {
                        if toks[element] != Tok::Punct('{') {
                            continue;
                        }
                        if let Some(end) = matching_close(toks, element) {
                            if let Some(name) = literal_value_of(toks, element, end, "name") {
                                names.insert(name);
                            }
                        }
                    }
                }
                Tok::Punct('{') => names.extend(object_keys(toks, open, close)),
                _ => {}
            }
        }
        for res in resources(toks) {
            if !res.type_lower.starts_with("microsoft.web/sites/config@") || res.is_loop {
                continue;
            }
            let named_appsettings = literal_value_of(toks, res.open, res.close, "name")
                .is_some_and(|n| n.eq_ignore_ascii_case("appsettings"));
            if !named_appsettings {
                continue;
            }
            if let Some(props) = value_index(toks, res.open, res.close, "properties") {
                if toks[props] == Tok::Punct('{') {
                    if let Some(end) = matching_close(toks, props) {
                        names.extend(object_keys(toks, props, end));
                    }
                }
            }
        }
    }
    names
}

/// Literal names of the (non-`existing`) resources whose type contains `type_fragment`
/// (lower case, e.g. "/tableservices/tables@"). For a loop (`[for x in SOURCE: {...}]`) the
/// string literals of SOURCE count: an inline array, or a `var`/`param` array in the same file.
fn resource_names(files: &[BicepFile], type_fragment: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for file in files {
        let toks = &file.toks;
        for res in resources(toks) {
            if res.existing || !res.type_lower.contains(type_fragment) {
                continue;
            }
            if !res.is_loop {
                if let Some(name) = literal_value_of(toks, res.open, res.close, "name") {
                    names.insert(name);
                }
                continue;
            }
            // [for <item or (item, index)> in SOURCE: BODY]
            let Some(in_at) = (res.open..res.close).find(|&k| toks[k] == Tok::Ident("in".into()))
            else {
                continue;
            };
            let source = in_at + 1;
            let mut source_end = source;
            match toks.get(source) {
                Some(Tok::Punct('[')) => {
                    if let Some(end) = matching_close(toks, source) {
                        names.extend(string_literals(&toks[source..end]));
                        source_end = end;
                    }
                }
                Some(Tok::Ident(symbol)) if toks.get(source + 1) == Some(&Tok::Punct(':')) => {
                    names.extend(array_declared_as(toks, symbol));
                }
                _ => {}
            }
            let body = (source_end..res.close).find(|&k| toks[k] == Tok::Punct('{'));
            if let Some(body) = body {
                if let Some(end) = matching_close(toks, body) {
                    if let Some(name) = literal_value_of(toks, body, end, "name") {
                        names.insert(name);
                    }
                }
            }
        }
    }
    names
}

/// The string literals of `var NAME = [ ... ]` or `param NAME <type> = [ ... ]`.
fn array_declared_as(toks: &[Tok], symbol: &str) -> Vec<String> {
    for i in 0..toks.len() {
        if !at_statement_start(toks, i) || toks.get(i + 1) != Some(&Tok::Ident(symbol.into())) {
            continue;
        }
        let eq = match &toks[i] {
            Tok::Ident(k) if k == "var" => i + 2,
            Tok::Ident(k) if k == "param" => i + 3,
            _ => continue,
        };
        if toks.get(eq) == Some(&Tok::Punct('=')) && toks.get(eq + 1) == Some(&Tok::Punct('[')) {
            if let Some(end) = matching_close(toks, eq + 1) {
                return string_literals(&toks[eq + 1..end]);
            }
        }
    }
    Vec::new()
}

/// Every `functionAppConfig: { runtime: { name: X, version: Y } }`: the file, and the first token
/// of X and of Y.
fn function_app_runtime_values(files: &[BicepFile]) -> Vec<(PathBuf, Option<Tok>, Option<Tok>)> {
    let mut found = Vec::new();
    for file in files {
        let toks = &file.toks;
        for i in 0..toks.len() {
            if !is_key_at(toks, i, "functionAppConfig") || toks[i + 2] != Tok::Punct('{') {
                continue;
            }
            let Some(end) = matching_close(toks, i + 2) else {
                continue;
            };
            let Some(runtime) = value_index(toks, i + 2, end, "runtime") else {
                continue;
            };
            if toks[runtime] != Tok::Punct('{') {
                continue;
            }
            if let Some(runtime_end) = matching_close(toks, runtime) {
                let at =
                    |key| value_index(toks, runtime, runtime_end, key).map(|v| toks[v].clone());
                found.push((file.path.clone(), at("name"), at("version")));
            }
        }
    }
    found
}

/// The tokens of the expression starting at `start`, up to the end of its line (brackets may span lines).
fn expression_at(toks: &[Tok], start: usize) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut k = start;
    while k < toks.len() {
        match toks[k] {
            Tok::Newline | Tok::Punct('}' | ']' | ')' | ',') => break,
            Tok::Punct('{' | '[' | '(') => {
                let end = matching_close(toks, k).unwrap_or(toks.len() - 1);
                out.extend(
                    toks[k..=end]
                        .iter()
                        .filter(|t| **t != Tok::Newline)
                        .cloned(),
                );
                k = end + 1;
                continue;
            }
            _ => out.push(toks[k].clone()),
        }
        k += 1;
    }
    out
}

/// For an expression `FUNC(a, b, ...)`: the tokens of each argument.
fn call_arguments(expr: &[Tok], func: &str) -> Option<Vec<Vec<Tok>>> {
    if expr.first() != Some(&Tok::Ident(func.into())) || expr.get(1) != Some(&Tok::Punct('(')) {
        return None;
    }
    let close = matching_close(expr, 1)?;
    if close != expr.len() - 1 {
        return None;
    }
    let mut args = vec![Vec::new()];
    let mut depth = 0;
    for tok in &expr[2..close] {
        match tok {
            Tok::Punct('{' | '[' | '(') => depth += 1,
            Tok::Punct('}' | ']' | ')') => depth -= 1,
            Tok::Punct(',') if depth == 0 => {
                args.push(Vec::new());
                continue;
            }
            _ => {}
        }
        args.last_mut().expect("at least one").push(tok.clone());
    }
    Some(args)
}

struct Output {
    name: String,
    toks: Vec<Tok>,
}

/// Every `output NAME TYPE = EXPR` statement, with the tokens of the whole statement.
fn outputs(toks: &[Tok]) -> Vec<Output> {
    let mut found = Vec::new();
    for i in 0..toks.len() {
        if toks[i] != Tok::Ident("output".into()) || !at_statement_start(toks, i) {
            continue;
        }
        let name = match toks.get(i + 1) {
            Some(Tok::Ident(n)) => n.clone(),
            _ => continue,
        };
        // The statement ends at the first newline outside brackets.
        let mut end = i;
        let mut k = i;
        while k < toks.len() {
            match toks[k] {
                Tok::Newline => break,
                Tok::Punct('{' | '[' | '(') => match matching_close(toks, k) {
                    Some(close) => k = close,
                    None => k = toks.len() - 1,
                },
                _ => {}
            }
            end = k;
            k += 1;
        }
        found.push(Output {
            name,
            toks: toks[i..=end].to_vec(),
        });
    }
    found
}

/// Why an output statement looks like it exposes a secret, if it does.
fn secret_in_output(toks: &[Tok]) -> Option<&'static str> {
    for (k, tok) in toks.iter().enumerate() {
        let (text, is_ident) = match tok {
            Tok::Ident(s) => (s.to_ascii_lowercase(), true),
            Tok::Str { value, .. } => (value.to_ascii_lowercase(), false),
            _ => continue,
        };
        if is_ident && text.starts_with("list") && toks.get(k + 1) == Some(&Tok::Punct('(')) {
            return Some("the result of a list*() call (listKeys, listConnectionStrings, ...)");
        }
        if text.contains("connectionstring") {
            return Some("a connection string");
        }
        if text.contains("key") && !text.contains("keyvault") {
            return Some("a key");
        }
        if text.contains("secret") || text.contains("password") {
            return Some("a secret");
        }
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Token helpers
// ---------------------------------------------------------------------------------------------

struct Resource {
    type_lower: String,
    existing: bool,
    is_loop: bool,
    /// Index of the body's `{` (or of the loop's `[`) and of its closing bracket.
    open: usize,
    close: usize,
}

/// Every `resource SYMBOL 'TYPE@VERSION' [existing] = [if (COND)] {...} | [for ...]` declaration.
fn resources(toks: &[Tok]) -> Vec<Resource> {
    let mut found = Vec::new();
    for i in 0..toks.len() {
        if toks[i] != Tok::Ident("resource".into()) || !at_statement_start(toks, i) {
            continue;
        }
        let (Some(Tok::Ident(_)), Some(Tok::Str { value, .. })) =
            (toks.get(i + 1), toks.get(i + 2))
        else {
            continue;
        };
        let mut k = i + 3;
        let existing = toks.get(k) == Some(&Tok::Ident("existing".into()));
        if existing {
            k += 1;
        }
        if toks.get(k) != Some(&Tok::Punct('=')) {
            continue;
        }
        k += 1;
        if toks.get(k) == Some(&Tok::Ident("if".into())) {
            match matching_close(toks, k + 1) {
                Some(close) if toks[k + 1] == Tok::Punct('(') => k = close + 1,
                _ => continue,
            }
        }
        let is_loop = match toks.get(k) {
            Some(Tok::Punct('{')) => false,
            Some(Tok::Punct('[')) => true,
            _ => continue,
        };
        if let Some(close) = matching_close(toks, k) {
            found.push(Resource {
                type_lower: value.to_ascii_lowercase(),
                existing,
                is_loop,
                open: k,
                close,
            });
        }
    }
    found
}

/// True when `toks[i]` is the first token of a line (decorators sit on lines of their own).
fn at_statement_start(toks: &[Tok], i: usize) -> bool {
    i == 0 || toks[i - 1] == Tok::Newline
}

/// True when `toks[i]` is the object key `key` (an identifier or a plain string) followed by `:`.
fn is_key_at(toks: &[Tok], i: usize, key: &str) -> bool {
    let is_key = match &toks[i] {
        Tok::Ident(s) => s == key,
        Tok::Str {
            value,
            interpolated: false,
        } => value == key,
        _ => false,
    };
    is_key
        && toks.get(i + 1) == Some(&Tok::Punct(':'))
        && toks.get(i + 2).is_some()
        && (i == 0 || matches!(toks[i - 1], Tok::Newline | Tok::Punct('{' | ',')))
}

/// Index of the closing bracket matching the opening bracket at `open` (`{`, `[` or `(`).
fn matching_close(toks: &[Tok], open: usize) -> Option<usize> {
    let mut stack = Vec::new();
    for (k, tok) in toks.iter().enumerate().skip(open) {
        match tok {
            Tok::Punct('{') => stack.push('}'),
            Tok::Punct('[') => stack.push(']'),
            Tok::Punct('(') => stack.push(')'),
            Tok::Punct(c @ ('}' | ']' | ')')) => {
                if stack.pop() != Some(*c) {
                    return None;
                }
                if stack.is_empty() {
                    return Some(k);
                }
            }
            _ => {}
        }
        if k == open && stack.is_empty() {
            return None; // `open` is not an opening bracket
        }
    }
    None
}

/// Indices of the tokens directly inside the brackets `open`..`close` (not nested deeper).
fn depth1_indices(toks: &[Tok], open: usize, close: usize) -> Vec<usize> {
    let mut found = Vec::new();
    let mut k = open + 1;
    while k < close {
        found.push(k);
        if matches!(toks[k], Tok::Punct('{' | '[' | '(')) {
            match matching_close(toks, k) {
                Some(end) => k = end,
                None => break,
            }
        }
        k += 1;
    }
    found
}

/// Index of the first token of the value of `key` directly inside the object `open`..`close`.
fn value_index(toks: &[Tok], open: usize, close: usize, key: &str) -> Option<usize> {
    depth1_indices(toks, open, close)
        .into_iter()
        .find(|&k| is_key_at(toks, k, key))
        .map(|k| k + 2)
        .filter(|&v| v < close)
}

/// The value of `key` directly inside the object `open`..`close`, when it is a plain string.
fn literal_value_of(toks: &[Tok], open: usize, close: usize, key: &str) -> Option<String> {
    match &toks[value_index(toks, open, close, key)?] {
        Tok::Str {
            value,
            interpolated: false,
        } => Some(value.clone()),
        _ => None,
    }
}

/// The keys directly inside the object `open`..`close`.
fn object_keys(toks: &[Tok], open: usize, close: usize) -> Vec<String> {
    depth1_indices(toks, open, close)
        .into_iter()
        .filter_map(|k| match &toks[k] {
            Tok::Ident(s) if is_key_at(toks, k, s) => Some(s.clone()),
            Tok::Str {
                value,
                interpolated: false,
            } if is_key_at(toks, k, value) => Some(value.clone()),
            _ => None,
        })
        .collect()
}

/// The plain (not interpolated) string literals among `toks`.
fn string_literals(toks: &[Tok]) -> Vec<String> {
    toks.iter()
        .filter_map(|t| match t {
            Tok::Str {
                value,
                interpolated: false,
            } => Some(value.clone()),
            _ => None,
        })
        .collect()
}

fn main_file(files: &[BicepFile]) -> &BicepFile {
    let main = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("infra")
        .join("main.bicep");
    files
        .iter()
        .find(|f| f.path == main)
        .unwrap_or_else(|| panic!("{} is missing", main.display()))
}

/// The first token of the default value of `param NAME TYPE = VALUE`.
fn param_default(toks: &[Tok], name: &str) -> Option<Tok> {
    (0..toks.len()).find_map(|i| {
        (at_statement_start(toks, i)
            && toks[i] == Tok::Ident("param".into())
            && toks.get(i + 1) == Some(&Tok::Ident(name.into()))
            && toks.get(i + 3) == Some(&Tok::Punct('=')))
        .then(|| toks.get(i + 4).cloned())
        .flatten()
    })
}

/// Index of the first token of the value at `path` (nested object keys) inside the object `open`..`close`.
fn value_at(toks: &[Tok], open: usize, close: usize, path: &[&str]) -> Option<usize> {
    let (first, rest) = path.split_first()?;
    let v = value_index(toks, open, close, first)?;
    if rest.is_empty() {
        return Some(v);
    }
    if toks[v] != Tok::Punct('{') {
        return None;
    }
    value_at(toks, v, matching_close(toks, v)?, rest)
}

/// The plain string at `path` inside the object `open`..`close`.
fn literal_at(toks: &[Tok], open: usize, close: usize, path: &[&str]) -> Option<String> {
    match &toks[value_at(toks, open, close, path)?] {
        Tok::Str {
            value,
            interpolated: false,
        } => Some(value.clone()),
        _ => None,
    }
}

/// For a loop resource `[for x in SOURCE: {...}]`: the string literals of SOURCE (an inline array,
/// or a `var`/`param` array in the same file).
fn loop_source_literals(toks: &[Tok], res: &Resource) -> Vec<String> {
    let Some(in_at) = (res.open..res.close).find(|&k| toks[k] == Tok::Ident("in".into())) else {
        return Vec::new();
    };
    match toks.get(in_at + 1) {
        Some(Tok::Punct('[')) => matching_close(toks, in_at + 1)
            .map(|end| string_literals(&toks[in_at + 1..end]))
            .unwrap_or_default(),
        Some(Tok::Ident(symbol)) => array_declared_as(toks, symbol),
        _ => Vec::new(),
    }
}

struct Module {
    /// The module's file path as written (relative to the declaring file).
    path: String,
    /// Tokens inside `if ( ... )`; empty when unconditional.
    condition: Vec<Tok>,
    open: usize,
    close: usize,
}

impl Module {
    /// Tokens of the value of `params: { NAME: ... }`, up to the end of its line.
    fn param_value(&self, toks: &[Tok], name: &str) -> Option<Vec<Tok>> {
        let params = value_index(toks, self.open, self.close, "params")?;
        let end = matching_close(toks, params)?;
        let v = value_index(toks, params, end, name)?;
        let stop = (v..end).find(|&k| toks[k] == Tok::Newline).unwrap_or(end);
        Some(toks[v..stop].to_vec())
    }
}

/// Every `module SYMBOL 'PATH' = [if (COND)] { ... }` declaration.
fn modules(toks: &[Tok]) -> Vec<Module> {
    let mut found = Vec::new();
    for i in 0..toks.len() {
        if toks[i] != Tok::Ident("module".into()) || !at_statement_start(toks, i) {
            continue;
        }
        let (Some(Tok::Ident(_)), Some(Tok::Str { value, .. }), Some(Tok::Punct('='))) =
            (toks.get(i + 1), toks.get(i + 2), toks.get(i + 3))
        else {
            continue;
        };
        let mut k = i + 4;
        let mut condition = Vec::new();
        if toks.get(k) == Some(&Tok::Ident("if".into()))
            && toks.get(k + 1) == Some(&Tok::Punct('('))
        {
            let Some(close) = matching_close(toks, k + 1) else {
                continue;
            };
            condition = toks[k + 2..close].to_vec();
            k = close + 1;
        }
        if toks.get(k) != Some(&Tok::Punct('{')) {
            continue;
        }
        if let Some(close) = matching_close(toks, k) {
            found.push(Module {
                path: value.clone(),
                condition,
                open: k,
                close,
            });
        }
    }
    found
}

/// The file and `module` declaration that deploy `target`.
fn module_deploying<'a>(
    files: &'a [BicepFile],
    target: &BicepFile,
) -> Option<(&'a BicepFile, Module)> {
    files.iter().find_map(|file| {
        let dir = file.path.parent()?;
        modules(&file.toks)
            .into_iter()
            .find(|m| dir.join(&m.path).components().eq(target.path.components()))
            .map(|m| (file, m))
    })
}

// ---------------------------------------------------------------------------------------------
// A small Bicep tokenizer: identifiers, strings, numbers, punctuation and line ends.
// Comments are dropped, so text in comments never counts.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    /// A string literal. `value` has escapes resolved; an interpolated string keeps its
    /// `${...}` parts as written and is never taken as a literal name.
    Str {
        value: String,
        interpolated: bool,
    },
    Number,
    Punct(char),
    Newline,
}

fn tokenize(src: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '\n' {
            toks.push(Tok::Newline);
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let start = i;
            i += 2;
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            if i >= chars.len() {
                return Err(format!(
                    "line {}: unterminated /* comment",
                    line_of(&chars, start)
                ));
            }
            if chars[start..i].contains(&'\n') {
                toks.push(Tok::Newline);
            }
            i += 2;
        } else if c == '\'' && next == Some('\'') && chars.get(i + 2) == Some(&'\'') {
            // '''multi-line string''': no escapes, no interpolation.
            let start = i;
            i += 3;
            let mut value = String::new();
            loop {
                if i >= chars.len() {
                    return Err(format!(
                        "line {}: unterminated ''' string",
                        line_of(&chars, start)
                    ));
                }
                if chars[i] == '\''
                    && chars.get(i + 1) == Some(&'\'')
                    && chars.get(i + 2) == Some(&'\'')
                {
                    i += 3;
                    break;
                }
                value.push(chars[i]);
                i += 1;
            }
            toks.push(Tok::Str {
                value,
                interpolated: false,
            });
        } else if c == '\'' {
            let (value, interpolated, end) = scan_string(&chars, i)?;
            toks.push(Tok::Str {
                value,
                interpolated,
            });
            i = end;
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            toks.push(Tok::Ident(chars[start..i].iter().collect()));
        } else if c.is_ascii_digit() {
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            toks.push(Tok::Number);
        } else {
            toks.push(Tok::Punct(c));
            i += 1;
        }
    }
    Ok(toks)
}

/// Scans the single-quoted string starting at `chars[start] == '\''`.
/// Returns its value, whether it has `${...}` parts, and the index just past its closing quote.
fn scan_string(chars: &[char], start: usize) -> Result<(String, bool, usize), String> {
    let mut value = String::new();
    let mut interpolated = false;
    let mut i = start + 1;
    loop {
        let Some(&c) = chars.get(i) else {
            return Err(format!(
                "line {}: unterminated string",
                line_of(chars, start)
            ));
        };
        match c {
            '\n' => {
                return Err(format!(
                    "line {}: string runs past the end of the line",
                    line_of(chars, start)
                ))
            }
            '\'' => return Ok((value, interpolated, i + 1)),
            '\\' => {
                let Some(&e) = chars.get(i + 1) else {
                    return Err(format!(
                        "line {}: unterminated string",
                        line_of(chars, start)
                    ));
                };
                value.push(match e {
                    'n' => '\n',
                    'r' => '\r',
                    't' => '\t',
                    other => other, // \\ \' \$ and \u{...} (kept as written)
                });
                i += 2;
            }
            '$' if chars.get(i + 1) == Some(&'{') => {
                // ${ expression }: copy it as written; it may hold strings and braces.
                interpolated = true;
                value.push_str("${");
                i += 2;
                let mut depth = 1;
                while depth > 0 {
                    let Some(&e) = chars.get(i) else {
                        return Err(format!(
                            "line {}: unterminated ${{...}} in string",
                            line_of(chars, start)
                        ));
                    };
                    match e {
                        '\'' => {
                            let (_, _, end) = scan_string(chars, i)?;
                            value.extend(&chars[i..end]);
                            i = end;
                            continue;
                        }
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        _ => {}
                    }
                    value.push(e);
                    i += 1;
                }
            }
            other => {
                value.push(other);
                i += 1;
            }
        }
    }
}

fn line_of(chars: &[char], index: usize) -> usize {
    chars[..index.min(chars.len())]
        .iter()
        .filter(|&&c| c == '\n')
        .count()
        + 1
}

// ---------------------------------------------------------------------------------------------
// Tests of the reader itself, on small snippets (they do not need infra/ or the handler).
// ---------------------------------------------------------------------------------------------

fn snippet(src: &str) -> Vec<BicepFile> {
    vec![BicepFile {
        path: PathBuf::from("snippet.bicep"),
        toks: tokenize(src).expect("snippet tokenizes"),
    }]
}

#[test]
fn reader_handles_strings_comments_and_interpolation() {
    let toks = tokenize(
        "var a = 'it\\'s ${b ? 'x}' : '{y'} done' // 'not: a string\n/* name: 'c' */ var c = '''\nraw ${x}'''",
    )
    .unwrap();
    assert_eq!(
        toks[3],
        Tok::Str {
            value: "it's ${b ? 'x}' : '{y'} done".into(),
            interpolated: true
        }
    );
    assert_eq!(toks[4], Tok::Newline);
    assert!(!toks.iter().any(|t| *t
        == Tok::Str {
            value: "not: a string".into(),
            interpolated: false
        }));
    assert!(!toks.iter().any(|t| *t
        == Tok::Str {
            value: "c".into(),
            interpolated: false
        }));
    assert_eq!(
        toks.last(),
        Some(&Tok::Str {
            value: "\nraw ${x}".into(),
            interpolated: false
        })
    );
    assert!(tokenize("var a = 'open").is_err());
}

#[test]
fn reader_finds_app_settings_in_arrays_objects_and_config_resources() {
    let files = snippet(
        "resource site 'Microsoft.Web/sites@2024-04-01' = {
  properties: {
    siteConfig: {
      appSettings: [
        {
          name: 'A_SETTING'
          value: cond ? 'x' : 'y'
        }
        { name: 'B_SETTING', value: '${x}' }
        // { name: 'COMMENTED_OUT', value: '' }
      ]
    }
    functionAppConfig: {
      runtime: {
        name: 'custom'
        version: '1.0'
      }
    }
  }
}
resource cfg 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  name: 'appsettings'
  properties: {
    C_SETTING: 'c'
    'D_SETTING': d
  }
}
var more = {
  appSettings: {
    E_SETTING: 'e'
  }
}
",
    );
    let names: Vec<String> = app_setting_names(&files).into_iter().collect();
    assert_eq!(
        names,
        [
            "A_SETTING",
            "B_SETTING",
            "C_SETTING",
            "D_SETTING",
            "E_SETTING"
        ]
    );
    let runtimes = function_app_runtime_values(&files);
    assert_eq!(runtimes.len(), 1);
    assert_eq!(
        (runtimes[0].1.clone(), runtimes[0].2.clone()),
        (
            Some(Tok::Str {
                value: "custom".into(),
                interpolated: false
            }),
            Some(Tok::Str {
                value: "1.0".into(),
                interpolated: false
            })
        )
    );
}

#[test]
fn reader_finds_tables_and_containers_plain_conditional_and_looped() {
    let files = snippet(
        "param extraTables array = [
  'fromparam'
]
var containerNames = [ 'fromvar', 'other' ]
resource t1 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = {
  parent: tableService
  name: 'records'
}
resource t2 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = if (on) {
  name: 'conditional'
}
resource t3 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [for t in extraTables: {
  name: t
}]
resource t4 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [for (t, i) in [ 'inline' ]: {
  name: t
}]
resource old 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' existing = {
  name: 'existing'
}
resource c 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [for n in containerNames: {
  name: n
  properties: { publicAccess: 'None' }
}]
resource d 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  name: 'pkg-${suffix}'
}
",
    );
    let tables: Vec<String> = resource_names(&files, "/tableservices/tables@")
        .into_iter()
        .collect();
    assert_eq!(tables, ["conditional", "fromparam", "inline", "records"]);
    let containers: Vec<String> = resource_names(&files, "/blobservices/containers@")
        .into_iter()
        .collect();
    assert_eq!(containers, ["fromvar", "other"]);
}

#[test]
fn reader_flags_outputs_with_keys_or_connection_strings() {
    let files = snippet(
        "output appName string = site.name
output hostname string = site.properties.defaultHostName
output cs string = appInsights.properties.ConnectionString
output k string = storage.listKeys().keys[0].value
output obj object = {
  a: sa.properties.primaryEndpoints.blob
  b: instrumentationKey
}
",
    );
    let flagged: Vec<(String, Option<&str>)> = outputs(&files[0].toks)
        .into_iter()
        .map(|o| (o.name, secret_in_output(&o.toks)))
        .collect();
    assert_eq!(flagged.len(), 5);
    assert_eq!(flagged[0].1, None);
    assert_eq!(flagged[1].1, None);
    assert_eq!(flagged[2].1, Some("a connection string"));
    assert!(flagged[3].1.is_some_and(|why| why.contains("list*()")));
    assert_eq!(flagged[4].1, Some("a key"));
}
