//! Outpost patch: [`RecordTemplate`], a public way for an embedder to make many plain
//! objects with one property layout, as boa's own built-ins do (`ObjectTemplate`).

use boa_gc::{Finalize, Trace};

use crate::{
    Context, JsObject, JsString, JsValue,
    builtins::object::OrdinaryObject,
    object::shape::shared_shape::template::ObjectTemplate,
    property::Attribute,
};

/// Ordinary objects (by default with the prototype `Object.prototype` of the realm the
/// template was made in) with the same writable, enumerable, configurable data
/// properties in the same order.
///
/// Making such an object through [`crate::object::ObjectInitializer`] finds the shape
/// by one transition lookup per property; a template keeps the final shape, so an
/// object costs one allocation and its values. The objects share their shape with
/// objects made the other way (and by scripts) with the same keys in the same order.
#[derive(Debug, Clone, Trace, Finalize)]
pub struct RecordTemplate {
    template: ObjectTemplate,
    len: usize,
}

impl RecordTemplate {
    /// A template for objects with the properties `keys`, in that order, in the
    /// current realm of `context`. Keys must be distinct and not array indices.
    #[must_use]
    pub fn new(keys: &[JsString], context: &Context) -> Self {
        let template = context.intrinsics().templates().ordinary_object().clone();
        Self::with_keys(template, keys)
    }

    /// A template for objects with prototype `prototype` and the properties `keys`
    /// (as [`RecordTemplate::new`]).
    #[must_use]
    pub fn with_prototype(prototype: JsObject, keys: &[JsString], context: &Context) -> Self {
        let template = ObjectTemplate::with_prototype(context.root_shape().shape(), prototype);
        Self::with_keys(template, keys)
    }

    fn with_keys(mut template: ObjectTemplate, keys: &[JsString]) -> Self {
        for key in keys {
            template.property(key.clone().into(), Attribute::all());
        }
        Self {
            template,
            len: keys.len(),
        }
    }

    /// The value of the template's property `index` on `object`, read from its slot,
    /// when `object` is an ordinary object that still has the template's layout (no
    /// property added, deleted or reconfigured since it was made); `None` otherwise
    /// (then [`JsObject::get`] answers). [[Get]] of an own data property returns its
    /// value, so the answer is the same; the lookup by key (the key's hash, the shape's
    /// table) is what it saves: most of the ~400 instructions of a `get`.
    #[must_use]
    pub fn read(&self, object: &JsObject, index: usize) -> Option<JsValue> {
        if !object.is_ordinary() {
            return None;
        }
        let object = object.borrow();
        let properties = object.properties();
        if properties.shape.to_addr_usize() != self.template.shape().to_addr_usize() {
            return None;
        }
        properties.storage.get(index).cloned()
    }

    /// Sets the template's property `index` of `object` to `value` in its slot, under
    /// the same condition as [`RecordTemplate::read`] (the template's properties are
    /// writable data properties, so [[Set]] would store there too). Returns whether it
    /// did; if not, [`JsObject::set`] must.
    pub fn write(&self, object: &JsObject, index: usize, value: JsValue) -> bool {
        if !object.is_ordinary() {
            return false;
        }
        let mut object = object.borrow_mut();
        let properties = object.properties_mut();
        if properties.shape.to_addr_usize() != self.template.shape().to_addr_usize() {
            return false;
        }
        match properties.storage.get_mut(index) {
            Some(slot) => {
                *slot = value;
                true
            }
            None => false,
        }
    }

    /// A new object whose properties hold `values`, in the template's order (missing
    /// values are `undefined`, extra ones dropped).
    #[must_use]
    pub fn create(&self, mut values: Vec<JsValue>) -> JsObject {
        values.resize(self.len, JsValue::undefined());
        self.template.create(OrdinaryObject, values)
    }
}
