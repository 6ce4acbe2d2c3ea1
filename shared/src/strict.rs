//! JSON's objects and arrays kept apart when a body is decoded. serde lets a struct be read from an array,
//! its fields taken in order (`["FGT1", 2]` read as `{"serial_number": "FGT1", "count": 2}`), at any depth;
//! a body read through [`Strict`] (or [`from_slice`]) is refused wherever an array stands for an object,
//! with serde's own message (`invalid type: sequence, expected struct …`). Everything else decodes as it
//! would without it.
//!
//! [`Strict`] wraps a deserializer and hands every nested value's deserializer the same wrapper, so the
//! rule holds in objects, arrays, options, newtypes and enum variants alike.
//!
//! Two helpers for the readers written by hand on top of it: [`Text`], a string borrowed from the body
//! where serde would copy it, and [`field_once`], a struct's field refused when given twice.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, Unexpected,
    VariantAccess, Visitor,
};

/// `T` from the JSON text `bytes` (the whole text: trailing characters are an error), with no array read
/// as an object.
pub fn from_slice<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> serde_json::Result<T> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = T::deserialize(Strict(&mut deserializer))?;
    deserializer.end()?;
    Ok(value)
}

/// What `seed` reads from the JSON text `bytes`, as [`from_slice`] reads a `T`.
pub fn from_slice_seed<'a, S: DeserializeSeed<'a>>(
    bytes: &'a [u8],
    seed: S,
) -> serde_json::Result<S::Value> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = seed.deserialize(Strict(&mut deserializer))?;
    deserializer.end()?;
    Ok(value)
}

/// `T` from the JSON text `text`, as [`from_slice`].
pub fn from_str<'a, T: Deserialize<'a>>(text: &'a str) -> serde_json::Result<T> {
    from_slice(text.as_bytes())
}

/// A JSON string as decoded: borrowed from the text where it stands there as it is (no escape), owned
/// otherwise. serde borrows a `Cow<str>` only as a struct's field marked `borrow`: never inside an
/// `Option`, nor as a map's key, which is what this is for.
pub struct Text<'de>(pub Cow<'de, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Borrowing;
        impl<'de> Visitor<'de> for Borrowing {
            type Value = Text<'de>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(text)))
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(text.to_owned())))
            }

            fn visit_string<E: de::Error>(self, text: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(text)))
            }
        }
        deserializer.deserialize_str(Borrowing)
    }
}

/// Reads a struct's field from `map` into `slot`, for a struct read by hand: a field given twice is
/// refused, with the derive's message, before its value is read.
pub fn field_once<'de, T: Deserialize<'de>, A: MapAccess<'de>>(
    slot: &mut Option<T>,
    name: &'static str,
    map: &mut A,
) -> Result<(), A::Error> {
    if slot.is_some() {
        return Err(de::Error::duplicate_field(name));
    }
    *slot = Some(map.next_value()?);
    Ok(())
}

/// A deserializer that refuses an array where a struct is expected (see the module documentation).
pub struct Strict<D>(pub D);

/// A visitor that passes every value through, and the nested values' deserializers wrapped; `object`: it
/// is a struct's, so an array is refused.
struct Checked<V> {
    visitor: V,
    object: bool,
}

impl<V> Checked<V> {
    fn any(visitor: V) -> Checked<V> {
        Checked {
            visitor,
            object: false,
        }
    }

    fn object(visitor: V) -> Checked<V> {
        Checked {
            visitor,
            object: true,
        }
    }
}

macro_rules! forward_deserialize {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
                self.0.$method(Checked::any(visitor))
            }
        )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Strict<D> {
    type Error = D::Error;

    forward_deserialize! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
        deserialize_f32 deserialize_f64 deserialize_char deserialize_str deserialize_string
        deserialize_bytes deserialize_byte_buf deserialize_option deserialize_unit deserialize_seq
        deserialize_map deserialize_identifier deserialize_ignored_any
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_unit_struct(name, Checked::any(visitor))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0
            .deserialize_newtype_struct(name, Checked::any(visitor))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple(len, Checked::any(visitor))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0
            .deserialize_tuple_struct(name, len, Checked::any(visitor))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0
            .deserialize_struct(name, fields, Checked::object(visitor))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0
            .deserialize_enum(name, variants, Checked::any(visitor))
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

macro_rules! forward_visit {
    ($($method:ident($type:ty))*) => {
        $(
            fn $method<E: de::Error>(self, value: $type) -> Result<V::Value, E> {
                self.visitor.$method(value)
            }
        )*
    };
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Checked<V> {
    type Value = V::Value;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.visitor.expecting(formatter)
    }

    forward_visit! {
        visit_bool(bool) visit_i8(i8) visit_i16(i16) visit_i32(i32) visit_i64(i64) visit_i128(i128)
        visit_u8(u8) visit_u16(u16) visit_u32(u32) visit_u64(u64) visit_u128(u128) visit_f32(f32)
        visit_f64(f64) visit_char(char) visit_str(&str) visit_borrowed_str(&'de str)
        visit_string(String) visit_bytes(&[u8]) visit_borrowed_bytes(&'de [u8]) visit_byte_buf(Vec<u8>)
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.visitor.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.visitor.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        self.visitor.visit_some(Strict(deserializer))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<V::Value, D::Error> {
        self.visitor.visit_newtype_struct(Strict(deserializer))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        if self.object {
            return Err(de::Error::invalid_type(Unexpected::Seq, &self));
        }
        self.visitor.visit_seq(Strict(seq))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.visitor.visit_map(Strict(map))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.visitor.visit_enum(Strict(data))
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Strict<A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        self.0.next_element_seed(Strict(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Strict<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.0.next_key_seed(Strict(seed))
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        self.0.next_value_seed(Strict(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Strict<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        self.0.deserialize(Strict(deserializer))
    }
}

impl<'de, A: EnumAccess<'de>> EnumAccess<'de> for Strict<A> {
    type Error = A::Error;
    type Variant = Strict<A::Variant>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Strict<A::Variant>), A::Error> {
        let (value, variant) = self.0.variant_seed(Strict(seed))?;
        Ok((value, Strict(variant)))
    }
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for Strict<A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.0.unit_variant()
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, A::Error> {
        self.0.newtype_variant_seed(Strict(seed))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        self.0.tuple_variant(len, Checked::any(visitor))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.0.struct_variant(fields, Checked::object(visitor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[derive(Debug, PartialEq, Deserialize)]
    struct Member {
        sn: String,
        #[serde(default)]
        rank: u32,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    enum Shape {
        Unit,
        Newtype(Member),
        Tuple(String, u32),
        Struct { sn: String, rank: u32 },
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Body {
        primary: Member,
        #[serde(default)]
        members: Vec<Member>,
        #[serde(default)]
        spare: Option<Member>,
        #[serde(default)]
        pair: Option<(String, u32)>,
        #[serde(default)]
        names: Vec<String>,
        #[serde(default)]
        shapes: Vec<Shape>,
        #[serde(default)]
        anything: Option<Value>,
    }

    fn refused(text: &str) -> String {
        let error = from_str::<Body>(text).unwrap_err().to_string();
        assert!(
            error.contains("invalid type: sequence, expected struct"),
            "{text}: {error}"
        );
        // serde alone reads it, the array as the struct's fields in order.
        assert!(serde_json::from_str::<Body>(text).is_ok(), "{text}");
        error
    }

    #[test]
    fn an_array_where_an_object_belongs_is_refused_at_any_depth() {
        refused(r#"{"primary": ["FGT1", 2]}"#);
        refused(r#"{"primary": {"sn": "FGT1"}, "members": [["FGT2", 3]]}"#);
        refused(r#"{"primary": {"sn": "FGT1"}, "spare": ["FGT2", 3]}"#);
        refused(r#"{"primary": {"sn": "FGT1"}, "shapes": [{"Newtype": ["FGT2", 3]}]}"#);
        refused(r#"{"primary": {"sn": "FGT1"}, "shapes": [{"Struct": ["FGT2", 3]}]}"#);
        let error = from_str::<Member>(r#"["FGT1", 2]"#)
            .unwrap_err()
            .to_string();
        assert!(error.contains("invalid type: sequence"), "{error}");
    }

    #[test]
    fn everything_else_reads_as_serde_reads_it() {
        let text = r#"{
            "primary": {"sn": "FGT1", "rank": 1},
            "members": [{"sn": "FGT2"}, {"sn": "FGT3", "rank": 3}],
            "spare": null,
            "pair": ["FGT4", 4],
            "names": ["a", "b"],
            "shapes": ["Unit", {"Newtype": {"sn": "FGT5"}}, {"Tuple": ["FGT6", 6]},
                       {"Struct": {"sn": "FGT7", "rank": 7}}],
            "anything": [[1, 2], {"x": [3]}, "é\u00e9", 1.5, -7, true]
        }"#;
        assert_eq!(
            from_str::<Body>(text).unwrap(),
            serde_json::from_str::<Body>(text).unwrap()
        );
        assert!(from_str::<Body>(r#"{"primary": {"sn": "FGT1"}} x"#).is_err());
    }
}
