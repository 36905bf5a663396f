//! `hub.limits`: operation depth, aliases and root fields, checked before
//! the query is planned; 400 with `MAX_DEPTH_LIMIT`, `MAX_ALIASES_LIMIT` or
//! `MAX_ROOT_FIELDS_LIMIT`.

use std::{ops::ControlFlow, sync::Arc};

use apollo_router::{
    graphql,
    layers::ServiceBuilderExt,
    plugin::{Plugin, PluginInit},
    register_plugin,
    services::supergraph,
};
use edge::limits::OperationLimits;
use schemars::JsonSchema;
use serde::Deserialize;
use tower::{BoxError, ServiceBuilder, ServiceExt};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Conf {
    #[serde(default = "d_depth")]
    pub max_depth: usize,
    #[serde(default = "d_aliases")]
    pub max_aliases: usize,
    #[serde(default = "d_root")]
    pub max_root_fields: usize,
    /// Set with the router's `supergraph.introspection`: introspection then
    /// has its own depth limit (standard tooling queries nest ~15 levels).
    #[serde(default)]
    pub introspection: bool,
    #[serde(default = "d_introspection_depth")]
    pub max_introspection_depth: usize,
}

fn d_introspection_depth() -> usize {
    OperationLimits::default().max_introspection_depth
}

fn d_depth() -> usize {
    OperationLimits::default().max_depth
}
fn d_aliases() -> usize {
    OperationLimits::default().max_aliases
}
fn d_root() -> usize {
    OperationLimits::default().max_root_fields
}

pub struct Limits {
    limits: Arc<OperationLimits>,
}

#[async_trait::async_trait]
impl Plugin for Limits {
    type Config = Conf;

    async fn new(init: PluginInit<Conf>) -> Result<Self, BoxError> {
        let c = init.config;
        Ok(Limits {
            limits: Arc::new(OperationLimits {
                max_depth: c.max_depth,
                max_aliases: c.max_aliases,
                max_root_fields: c.max_root_fields,
                introspection: c.introspection,
                max_introspection_depth: c.max_introspection_depth,
            }),
        })
    }

    fn supergraph_service(&self, service: supergraph::BoxService) -> supergraph::BoxService {
        let limits = self.limits.clone();
        ServiceBuilder::new()
            .checkpoint(move |req: supergraph::Request| {
                let body = req.supergraph_request.body();
                let verdict = match &body.query {
                    Some(q) => limits.check(q, body.operation_name.as_deref()),
                    None => Ok(()),
                };
                match verdict {
                    Ok(()) => Ok(ControlFlow::Continue(req)),
                    Err(r) => {
                        let error = graphql::Error::builder()
                            .message(r.message.clone())
                            .extension_code(r.code)
                            .build();
                        let resp = supergraph::Response::error_builder()
                            .error(error)
                            .status_code(http::StatusCode::BAD_REQUEST)
                            .context(req.context)
                            .build()?;
                        Ok(ControlFlow::Break(resp))
                    }
                }
            })
            .service(service)
            .boxed()
    }
}

register_plugin!("hub", "limits", Limits);
