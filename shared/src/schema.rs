//! OpenAPI schemas for the types that travel as text (identifiers, dates, activation codes): their own
//! `Serialize` writes a string, so their schema is a string with what it looks like. The API types derive
//! `utoipa::ToSchema`; these are the ones a derive cannot describe.

/// Implements `utoipa::ToSchema` for `$ty`, which serializes as a string: `$description` and an example.
macro_rules! text_schema {
    ($ty:ty, $description:expr, $example:expr) => {
        impl utoipa::PartialSchema for $ty {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .description(Some($description))
                    .examples([$example])
                    .into()
            }
        }

        impl utoipa::ToSchema for $ty {}
    };
}

pub(crate) use text_schema;
