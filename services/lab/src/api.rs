//! Routes and their OpenAPI document, registered together: the only way a fortimock listener gets a route.
//!
//! A handler carries its documentation as a `#[utoipa::path(...)]` attribute whose `path` is a
//! `protocol::paths` constant; [`Api::route`] registers the handler at exactly that path and those methods
//! and adds the operation (with the schemas it references) to the service's document, so a route cannot be
//! served undocumented or documented unserved. [`Api::guarded`] opens a scope behind
//! `admin::require_admin_token`, and marks its operations as needing the admin token.
//!
//! [`document`] builds a service's document by registering its routes into a throwaway app; `lab::server`
//! serves it at `/__admin/openapi.json`, with Swagger UI (assets built into the binary) at `/__admin/docs`.

use std::sync::Arc;

use actix_web::http::Method;
use actix_web::middleware::from_fn;
use actix_web::{FromRequest, Handler, Responder, guard, web};
use utoipa::openapi::path::{HttpMethod, Operation, Paths};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Ref, RefOr,
    ResponseBuilder, Schema, Tag,
};

use crate::http::BodyLimit;

/// The name of the admin token's security scheme in every document.
pub const ADMIN_TOKEN_SCHEME: &str = "admin_token";

/// The full path template of the resource that served a request, kept as the resource's data so the
/// coverage report reads it after the answer without matching the path again (`match_pattern` does).
#[derive(Debug, Clone)]
pub struct RoutePattern(pub Arc<str>);

/// One route a listener serves: its method and its full path template.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RegisteredRoute {
    pub method: String,
    pub path: String,
    /// Behind the admin token's guard.
    pub guarded: bool,
}

/// What registering routes collects: the routes, and, when documenting, the operations and the schemas
/// they reference. A listener's workers register without documenting: making the operations is most of
/// what registering costs, and only the OpenAPI document needs them.
#[derive(Default)]
pub struct Collected {
    documenting: bool,
    paths: Paths,
    schemas: Vec<(String, RefOr<Schema>)>,
    routes: Vec<RegisteredRoute>,
}

impl Collected {
    /// Every route registered, in registration order.
    pub fn routes(&self) -> &[RegisteredRoute] {
        &self.routes
    }
}

/// Registers routes and documents them: a `web::ServiceConfig` that takes only documented handlers.
pub struct Api<'a> {
    cfg: &'a mut web::ServiceConfig,
    collected: &'a mut Collected,
    /// The path of the scope this registers into (`""` at the top).
    prefix: &'static str,
    guarded: bool,
}

impl<'a> Api<'a> {
    /// Registers into `cfg`, collecting into `collected`.
    pub fn new(cfg: &'a mut web::ServiceConfig, collected: &'a mut Collected) -> Api<'a> {
        Api {
            cfg,
            collected,
            prefix: "",
            guarded: false,
        }
    }

    /// Application data for every route of the listener (`web::ServiceConfig::app_data`).
    pub fn app_data<U: 'static>(&mut self, data: U) -> &mut Self {
        self.cfg.app_data(data);
        self
    }

    /// Serves `handler` where its `#[utoipa::path]` documentation `D` says (the path and every method), and
    /// adds the operation to the document.
    pub fn route<D, F, Args>(&mut self, _documented: D, handler: F) -> &mut Self
    where
        D: utoipa::Path + utoipa::__dev::SchemaReferences,
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.register::<D, F, Args>(handler, None)
    }

    /// [`Api::route`] for a handler whose JSON body may be up to `limit` bytes (`lab::http::BodyLimit`).
    pub fn route_with_body_limit<D, F, Args>(
        &mut self,
        _documented: D,
        handler: F,
        limit: usize,
    ) -> &mut Self
    where
        D: utoipa::Path + utoipa::__dev::SchemaReferences,
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.register::<D, F, Args>(handler, Some(limit))
    }

    fn register<D, F, Args>(&mut self, handler: F, limit: Option<usize>) -> &mut Self
    where
        D: utoipa::Path + utoipa::__dev::SchemaReferences,
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        let path = D::path();
        let Some(relative) = path.strip_prefix(self.prefix) else {
            panic!(
                "route {path} is registered in scope {}, which does not contain it",
                self.prefix
            );
        };
        let methods = D::methods();
        let pattern = RoutePattern(Arc::from(path.as_str()));
        for method in &methods {
            let method = actix_method(method);
            // One check of the method, on the resource: a request for another method goes on to the next
            // resource (the path may have one for it) and at last to the listener's 404. The check compares
            // only; `guard::Method` also records each method it was asked about in the request's extensions,
            // for a 405 no fortimock resource answers, two map updates on every request, polls included.
            let mut resource = web::resource(relative.to_owned())
                .app_data(pattern.clone())
                .guard(guard::fn_guard({
                    let method = method.clone();
                    move |request| request.head().method == method
                }))
                .route(web::route().to(handler.clone()));
            if let Some(limit) = limit {
                resource = resource.app_data(BodyLimit(limit));
            }
            self.cfg.service(resource);
            self.collected.routes.push(RegisteredRoute {
                method: method.as_str().to_owned(),
                path: path.clone(),
                guarded: self.guarded,
            });
        }
        if !self.collected.documenting {
            return self;
        }
        let mut operation = D::operation();
        if self.guarded {
            operation.security = Some(vec![SecurityRequirement::new(
                ADMIN_TOKEN_SCHEME,
                Vec::<String>::new(),
            )]);
        }
        add_listener_responses(&mut operation, self.guarded, &methods);
        // The schema the added answers refer to (the document keeps one of each name).
        self.collected.schemas.push((
            <protocol::admin::ErrorBody as utoipa::ToSchema>::name().into_owned(),
            <protocol::admin::ErrorBody as utoipa::PartialSchema>::schema(),
        ));
        self.collected
            .paths
            .add_path_operation(&path, methods, operation);
        D::schemas(&mut self.collected.schemas);
        self
    }

    /// Serves an emulated Fortinet product API whose one dispatcher answers every method on every path
    /// below `prefix` (a FortiAuthenticator's `/api/v1/` REST API), and leaves it out of the document: its
    /// shapes are Fortinet's, described by Fortinet's own API reference, not fortimock's API (issue 13
    /// documents fortimock's own APIs only). The coverage test exempts its paths by name
    /// (`protocol::paths::FAC_*`).
    pub fn emulated_product_api<F, Args>(&mut self, prefix: &'static str, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        let Some(relative) = prefix.strip_prefix(self.prefix) else {
            panic!(
                "route {prefix} is registered in scope {}, which does not contain it",
                self.prefix
            );
        };
        let path = format!("{prefix}{{tail:.*}}");
        self.cfg.service(
            web::resource(format!("{relative}{{tail:.*}}"))
                .app_data(RoutePattern(Arc::from(path.as_str())))
                .to(handler),
        );
        self.collected.routes.push(RegisteredRoute {
            method: "*".to_owned(),
            path,
            guarded: self.guarded,
        });
        self
    }

    /// Registers `routes` in a scope at `prefix` behind the admin token's guard (`lab::admin::
    /// require_admin_token`); every path registered inside must start with `prefix`.
    pub fn guarded(
        &mut self,
        prefix: &'static str,
        routes: impl FnOnce(&mut Api<'_>),
    ) -> &mut Self {
        let Some(relative) = prefix.strip_prefix(self.prefix) else {
            panic!("scope {prefix} is opened in scope {}", self.prefix);
        };
        let collected = &mut *self.collected;
        let scope = web::scope(relative)
            .wrap(from_fn(crate::admin::require_admin_token))
            .configure(|cfg| {
                let mut inner = Api {
                    cfg,
                    collected,
                    prefix,
                    guarded: true,
                };
                routes(&mut inner);
            });
        self.cfg.service(scope);
        self
    }
}

fn actix_method(method: &HttpMethod) -> Method {
    match method {
        HttpMethod::Get => Method::GET,
        HttpMethod::Post => Method::POST,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Delete => Method::DELETE,
        HttpMethod::Options => Method::OPTIONS,
        HttpMethod::Head => Method::HEAD,
        HttpMethod::Patch => Method::PATCH,
        HttpMethod::Trace => Method::TRACE,
    }
}

/// What a service's document says about it.
pub struct Described {
    /// The service's name (`forticare`, …), the document's title.
    pub service: &'static str,
    /// One paragraph: what the service is.
    pub description: &'static str,
    /// Bearer-token security schemes besides the admin token's: `(name, description)`.
    pub bearer_schemes: &'static [(&'static str, &'static str)],
}

/// Registers `routes` into a throwaway app and returns what they collected: the routes a listener built
/// the same way serves.
pub fn collect(routes: impl FnOnce(&mut Api<'_>)) -> Collected {
    collect_as(true, routes)
}

/// The routes `routes` registers, without their documentation.
pub fn collect_routes(routes: impl FnOnce(&mut Api<'_>)) -> Vec<RegisteredRoute> {
    collect_as(false, routes).routes
}

fn collect_as(documenting: bool, routes: impl FnOnce(&mut Api<'_>)) -> Collected {
    let mut collected = Collected {
        documenting,
        ..Collected::default()
    };
    let app = actix_web::App::new().configure(|cfg| {
        let mut api = Api::new(cfg, &mut collected);
        routes(&mut api);
    });
    // The app is never served: it only saw the routes registered.
    drop(app);
    collected
}

/// Adds to `operation` the answers every listener may give whatever the handler (unless the handler
/// documents its own): 401 on a guarded route (the admin token missing or wrong), 503 past
/// `--max-connections`, and 408 on a route that takes a body (its head or body not in within
/// `--request-timeout-secs`).
fn add_listener_responses(operation: &mut Operation, guarded: bool, methods: &[HttpMethod]) {
    let error_body = || {
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ErrorBody")))
            .build()
    };
    let mut answers = Vec::new();
    if guarded {
        answers.push((
            "401",
            ResponseBuilder::new()
                .description(
                    "`admin.unauthorized`: an admin token is set and the request did not carry it \
                     (`Authorization: Bearer <token>`).",
                )
                .content("application/json", error_body())
                .build(),
        ));
    }
    let takes_body = methods
        .iter()
        .any(|m| matches!(m, HttpMethod::Post | HttpMethod::Put | HttpMethod::Patch));
    if takes_body {
        answers.push((
            "408",
            ResponseBuilder::new()
                .description(
                    "The request's head or body did not arrive within `--request-timeout-secs` \
                     (in the endpoint's own error shape).",
                )
                .build(),
        ));
    }
    answers.push((
        "503",
        ResponseBuilder::new()
            .description(
                "`http.busy`: the service has more connections open than `--max-connections`; the \
                 connection is closed.",
            )
            .content("application/json", error_body())
            .build(),
    ));
    for (status, response) in answers {
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert(RefOr::T(response));
    }
}

/// The OpenAPI document of the routes `collected`.
pub fn document(described: &Described, collected: Collected) -> OpenApi {
    let mut schemas = collected.schemas;
    schemas.sort_by(|a, b| a.0.cmp(&b.0));
    schemas.dedup_by(|a, b| a.0 == b.0);
    let mut components = ComponentsBuilder::new().schemas_from_iter(schemas);
    for (name, description) in described.bearer_schemes {
        components = components.security_scheme(
            *name,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(*description))
                    .build(),
            ),
        );
    }
    let components = components
        .security_scheme(
            ADMIN_TOKEN_SCHEME,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The admin token (`--admin-token`, or `<data-dir>/admin-token` when fortimock \
                         generated one). Needed only when one is set: on loopback without \
                         `--admin-token`, these routes are open.",
                    ))
                    .build(),
            ),
        )
        .build();
    let mut tags: Vec<String> = collected
        .paths
        .paths
        .values()
        .flat_map(|item| {
            [
                &item.get,
                &item.put,
                &item.post,
                &item.delete,
                &item.patch,
                &item.head,
                &item.options,
                &item.trace,
            ]
            .into_iter()
            .flatten()
            .flat_map(|operation| operation.tags.clone().unwrap_or_default())
            .collect::<Vec<_>>()
        })
        .collect();
    tags.sort();
    tags.dedup();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title(format!("fortimock {}", described.service))
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(described.description))
                .build(),
        )
        .paths(collected.paths)
        .components(Some(components))
        .tags(Some(tags.into_iter().map(Tag::new)))
        .build()
}
