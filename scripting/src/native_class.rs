//! Building a Web API class whose constructor and readers are native (`Request`,
//! `Response`): the constructor with its `prototype`, WebIDL-style readers, the
//! prototype a construction uses, its objects, the prelude's object of ways into the
//! class, what a class keeps in its realm, and the fields of its records.

use boa_engine::object::NativeObject;
use boa_engine::object::builtins::JsFunction;
use boa_engine::object::{FunctionObjectBuilder, ObjectInitializer, RecordTemplate};
use boa_engine::property::{Attribute, PropertyDescriptor};
use boa_engine::{Context, JsObject, JsResult, JsString, JsValue, NativeFunction, js_string};

/// What the current realm keeps of type `T` (a class's prototype, helpers or record
/// layouts, stored when the class was set up), read through `f`; `None` before that.
pub(crate) fn kept<T: NativeObject, R>(ctx: &Context, f: impl FnOnce(&T) -> R) -> Option<R> {
    ctx.realm().host_defined().get::<T>().map(f)
}

/// Property `index`, named `name`, of `record` (an object `layout` made): read from its
/// slot while the object keeps that layout, by [[Get]] otherwise (or without a layout).
pub(crate) fn field(
    record: &JsObject,
    layout: Option<&RecordTemplate>,
    (index, name): (usize, JsString),
    ctx: &mut Context,
) -> JsResult<JsValue> {
    match layout.and_then(|l| l.read(record, index)) {
        Some(value) => Ok(value),
        None => record.get(name, ctx),
    }
}

/// Sets property `index`, named `name`, of `record` as [`field`] reads it (a script's
/// [[Set]] with no throw, when the object no longer has its layout).
pub(crate) fn set_field(
    record: &JsObject,
    layout: Option<&RecordTemplate>,
    (index, name): (usize, JsString),
    value: JsValue,
    ctx: &mut Context,
) -> JsResult<()> {
    match layout {
        Some(l) if l.write(record, index, value.clone()) => Ok(()),
        _ => record.set(name, value, false, ctx).map(drop),
    }
}

/// A new object of `prototype` holding `data`, sharing its shape with every other
/// object of that prototype (boa's `from_proto_and_data` would make each a unique
/// shape: an allocation per object).
pub(crate) fn object<T: NativeObject>(prototype: JsObject, data: T, ctx: &Context) -> JsObject {
    JsObject::from_proto_and_data_with_shared_shape(ctx.root_shape(), Some(prototype), data)
        .upcast()
}

/// The constructor `name` (`length` required arguments) running `construct`, with
/// `prototype` as its `prototype` and the prototype's `constructor` pointing back.
pub(crate) fn class(
    name: &str,
    length: usize,
    construct: NativeFunction,
    prototype: &JsObject,
    ctx: &mut Context,
) -> JsResult<JsFunction> {
    let class = FunctionObjectBuilder::new(ctx.realm(), construct)
        .name(JsString::from(name))
        .length(length)
        .constructor(true)
        .build();
    class.define_property_or_throw(
        js_string!("prototype"),
        PropertyDescriptor::builder()
            .value(prototype.clone())
            .writable(false)
            .enumerable(false)
            .configurable(false),
        ctx,
    )?;
    prototype.define_property_or_throw(
        js_string!("constructor"),
        PropertyDescriptor::builder()
            .value(class.clone())
            .writable(true)
            .enumerable(false)
            .configurable(true),
        ctx,
    )?;
    Ok(class)
}

/// A reader `name` on `prototype` (its getter named "get name").
pub(crate) fn reader(
    prototype: &JsObject,
    name: &str,
    get: NativeFunction,
    ctx: &mut Context,
) -> JsResult<()> {
    let getter = FunctionObjectBuilder::new(ctx.realm(), get)
        .name(JsString::from(format!("get {name}").as_str()))
        .build();
    prototype.define_property_or_throw(
        JsString::from(name),
        PropertyDescriptor::builder()
            .get(getter)
            .enumerable(false)
            .configurable(true),
        ctx,
    )?;
    Ok(())
}

/// The function `name` among the helpers the prelude hands a class's host call
/// (its first argument).
pub(crate) fn helper(args: &[JsValue], name: &str, ctx: &mut Context) -> JsResult<JsObject> {
    let helpers = args.first().and_then(JsValue::as_object);
    let f = match helpers {
        Some(h) => h.get(JsString::from(name), ctx)?.as_object(),
        None => None,
    };
    f.filter(JsObject::is_callable).ok_or_else(|| {
        crate::convert::type_error(format!("class helpers: expected a function `{name}`"))
    })
}

/// `new.target` of a construction of class `name` (a TypeError for a call without
/// `new`, as WebIDL constructors throw).
pub(crate) fn new_target(new_target: &JsValue, name: &str) -> JsResult<JsObject> {
    new_target.as_object().ok_or_else(|| {
        crate::convert::type_error(format!(
            "Failed to construct '{name}': Please use the 'new' operator, this DOM object constructor cannot be called as a function."
        ))
    })
}

/// GetPrototypeFromConstructor: a subclass's prototype (from `new.target`), else
/// `default`.
pub(crate) fn prototype_for(
    new_target: &JsObject,
    default: &JsObject,
    ctx: &mut Context,
) -> JsResult<JsObject> {
    Ok(new_target
        .get(js_string!("prototype"), ctx)?
        .as_object()
        .unwrap_or_else(|| default.clone()))
}

/// `{ name: function, … }`: what the prelude gets back from a class's host call.
pub(crate) fn ways_in(
    class: (&str, JsFunction),
    functions: Vec<(&str, NativeFunction)>,
    ctx: &mut Context,
) -> JsValue {
    let built: Vec<(JsString, JsFunction)> = functions
        .into_iter()
        .map(|(name, f)| {
            (
                JsString::from(name),
                FunctionObjectBuilder::new(ctx.realm(), f).build(),
            )
        })
        .collect();
    let mut out = ObjectInitializer::new(ctx);
    out.property(JsString::from(class.0), class.1, Attribute::all());
    for (name, f) in built {
        out.property(name, f, Attribute::all());
    }
    out.build().into()
}
