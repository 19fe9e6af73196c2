// Streams, part 04: tee, pipeTo/pipeThrough, async iteration and ReadableStream.from.
// (The parts in this folder are one script, concatenated in order: see instance.rs.)
  // ---- tee ----
  function readableStreamTee(s, cloneForBranch2) {
    if (s.controller.kind === "byte") return readableByteStreamTee(s);
    return readableStreamDefaultTee(s, cloneForBranch2);
  }
  function readableStreamDefaultTee(s, cloneForBranch2) {
    const reader = acquireReadableStreamDefaultReader(s);
    let reading = false, readAgain = false, canceled1 = false, canceled2 = false;
    let reason1, reason2, branch1, branch2;
    const cancelPromise = newPromise();
    const pullAlgorithm = () => {
      if (reading) { readAgain = true; return resolvedWith(undefined); }
      reading = true;
      readableStreamDefaultReaderRead(reader, {
        chunk: (chunk) => queueMicrotask(() => {
          readAgain = false;
          const chunk1 = chunk;
          let chunk2 = chunk;
          if (!canceled2 && cloneForBranch2) chunk2 = structuredClone(chunk);
          if (!canceled1) readableStreamDefaultControllerEnqueue(branch1.controller, chunk1);
          if (!canceled2) readableStreamDefaultControllerEnqueue(branch2.controller, chunk2);
          reading = false;
          if (readAgain) pullAlgorithm();
        }),
        close: () => {
          reading = false;
          if (!canceled1) readableStreamDefaultControllerClose(branch1.controller);
          if (!canceled2) readableStreamDefaultControllerClose(branch2.controller);
          if (!canceled1 || !canceled2) resolvePromise(cancelPromise, undefined);
        },
        error: () => { reading = false; },
      });
      return resolvedWith(undefined);
    };
    const cancel1Algorithm = (reason) => {
      canceled1 = true;
      reason1 = reason;
      if (canceled2) resolvePromise(cancelPromise, readableStreamCancel(s, [reason1, reason2]));
      return cancelPromise.promise;
    };
    const cancel2Algorithm = (reason) => {
      canceled2 = true;
      reason2 = reason;
      if (canceled1) resolvePromise(cancelPromise, readableStreamCancel(s, [reason1, reason2]));
      return cancelPromise.promise;
    };
    const start = () => undefined;
    branch1 = createReadableStream(start, pullAlgorithm, cancel1Algorithm);
    branch2 = createReadableStream(start, pullAlgorithm, cancel2Algorithm);
    upon(reader.closed.promise, undefined, (r) => {
      readableStreamDefaultControllerError(branch1.controller, r);
      readableStreamDefaultControllerError(branch2.controller, r);
      if (!canceled1 || !canceled2) resolvePromise(cancelPromise, undefined);
    });
    return [branch1, branch2];
  }
  function readableByteStreamTee(s) {
    let reader = acquireReadableStreamDefaultReader(s);
    let reading = false, readAgainForBranch1 = false, readAgainForBranch2 = false;
    let canceled1 = false, canceled2 = false, reason1, reason2, branch1, branch2;
    const cancelPromise = newPromise();
    const forwardReaderError = (thisReader) => {
      upon(thisReader.closed.promise, undefined, (r) => {
        if (thisReader !== reader) return;
        readableByteStreamControllerError(branch1.controller, r);
        readableByteStreamControllerError(branch2.controller, r);
        if (!canceled1 || !canceled2) resolvePromise(cancelPromise, undefined);
      });
    };
    const pullWithDefaultReader = () => {
      if (reader.kind === "byob") {
        readableStreamBYOBReaderRelease(reader);
        reader = acquireReadableStreamDefaultReader(s);
        forwardReaderError(reader);
      }
      readableStreamDefaultReaderRead(reader, {
        chunk: (chunk) => queueMicrotask(() => {
          readAgainForBranch1 = false;
          readAgainForBranch2 = false;
          const chunk1 = chunk;
          let chunk2 = chunk;
          if (!canceled1 && !canceled2) {
            try {
              chunk2 = cloneAsUint8Array(chunk);
            } catch (e) {
              readableByteStreamControllerError(branch1.controller, e);
              readableByteStreamControllerError(branch2.controller, e);
              resolvePromise(cancelPromise, readableStreamCancel(s, e));
              return;
            }
          }
          if (!canceled1) readableByteStreamControllerEnqueue(branch1.controller, chunk1);
          if (!canceled2) readableByteStreamControllerEnqueue(branch2.controller, chunk2);
          reading = false;
          if (readAgainForBranch1) pull1Algorithm();
          else if (readAgainForBranch2) pull2Algorithm();
        }),
        close: () => {
          reading = false;
          if (!canceled1) readableByteStreamControllerClose(branch1.controller);
          if (!canceled2) readableByteStreamControllerClose(branch2.controller);
          if (branch1.controller.pendingPullIntos.length > 0) readableByteStreamControllerRespond(branch1.controller, 0);
          if (branch2.controller.pendingPullIntos.length > 0) readableByteStreamControllerRespond(branch2.controller, 0);
          if (!canceled1 || !canceled2) resolvePromise(cancelPromise, undefined);
        },
        error: () => { reading = false; },
      });
    };
    const pullWithBYOBReader = (view, forBranch2) => {
      if (reader.kind === "default") {
        readableStreamDefaultReaderRelease(reader);
        reader = acquireReadableStreamBYOBReader(s);
        forwardReaderError(reader);
      }
      const byobBranch = forBranch2 ? branch2 : branch1;
      const otherBranch = forBranch2 ? branch1 : branch2;
      readableStreamBYOBReaderRead(reader, view, 1, {
        chunk: (chunk) => queueMicrotask(() => {
          readAgainForBranch1 = false;
          readAgainForBranch2 = false;
          const byobCanceled = forBranch2 ? canceled2 : canceled1;
          const otherCanceled = forBranch2 ? canceled1 : canceled2;
          if (!otherCanceled) {
            let cloned;
            try {
              cloned = cloneAsUint8Array(chunk);
            } catch (e) {
              readableByteStreamControllerError(byobBranch.controller, e);
              readableByteStreamControllerError(otherBranch.controller, e);
              resolvePromise(cancelPromise, readableStreamCancel(s, e));
              return;
            }
            if (!byobCanceled) readableByteStreamControllerRespondWithNewView(byobBranch.controller, chunk);
            readableByteStreamControllerEnqueue(otherBranch.controller, cloned);
          } else if (!byobCanceled) {
            readableByteStreamControllerRespondWithNewView(byobBranch.controller, chunk);
          }
          reading = false;
          if (readAgainForBranch1) pull1Algorithm();
          else if (readAgainForBranch2) pull2Algorithm();
        }),
        close: (chunk) => {
          reading = false;
          const byobCanceled = forBranch2 ? canceled2 : canceled1;
          const otherCanceled = forBranch2 ? canceled1 : canceled2;
          if (!byobCanceled) readableByteStreamControllerClose(byobBranch.controller);
          if (!otherCanceled) readableByteStreamControllerClose(otherBranch.controller);
          if (chunk !== undefined) {
            if (!byobCanceled) readableByteStreamControllerRespondWithNewView(byobBranch.controller, chunk);
            if (!otherCanceled && otherBranch.controller.pendingPullIntos.length > 0) {
              readableByteStreamControllerRespond(otherBranch.controller, 0);
            }
          }
          if (!byobCanceled || !otherCanceled) resolvePromise(cancelPromise, undefined);
        },
        error: () => { reading = false; },
      });
    };
    const pull1Algorithm = () => {
      if (reading) { readAgainForBranch1 = true; return resolvedWith(undefined); }
      reading = true;
      const req = readableByteStreamControllerGetBYOBRequest(branch1.controller);
      if (req === null) pullWithDefaultReader();
      else pullWithBYOBReader(byobReq(req).view, false);
      return resolvedWith(undefined);
    };
    const pull2Algorithm = () => {
      if (reading) { readAgainForBranch2 = true; return resolvedWith(undefined); }
      reading = true;
      const req = readableByteStreamControllerGetBYOBRequest(branch2.controller);
      if (req === null) pullWithDefaultReader();
      else pullWithBYOBReader(byobReq(req).view, true);
      return resolvedWith(undefined);
    };
    const cancel1Algorithm = (reason) => {
      canceled1 = true;
      reason1 = reason;
      if (canceled2) resolvePromise(cancelPromise, readableStreamCancel(s, [reason1, reason2]));
      return cancelPromise.promise;
    };
    const cancel2Algorithm = (reason) => {
      canceled2 = true;
      reason2 = reason;
      if (canceled1) resolvePromise(cancelPromise, readableStreamCancel(s, [reason1, reason2]));
      return cancelPromise.promise;
    };
    const start = () => undefined;
    branch1 = createReadableByteStream(start, pull1Algorithm, cancel1Algorithm);
    branch2 = createReadableByteStream(start, pull2Algorithm, cancel2Algorithm);
    forwardReaderError(reader);
    return [branch1, branch2];
  }

  // ---- pipes ----
  function readableStreamPipeTo(source, dest, preventClose, preventAbort, preventCancel, signal) {
    const reader = acquireReadableStreamDefaultReader(source);
    const writer = acquireWritableStreamDefaultWriter(dest);
    source.disturbed = true;
    let shuttingDown = false;
    let currentWrite = resolvedWith(undefined);
    const promise = newPromise();
    let removeAbort = noop;

    const finalize = (isError, error) => {
      writableStreamDefaultWriterRelease(writer);
      readableStreamDefaultReaderRelease(reader);
      removeAbort();
      if (isError) rejectPromise(promise, error);
      else resolvePromise(promise, undefined);
    };
    const waitForWritesToFinish = () => {
      const old = currentWrite;
      return transformPromise(currentWrite, () => (old !== currentWrite ? waitForWritesToFinish() : undefined));
    };
    const shutdownWithAnAction = (action, originalIsError, originalError) => {
      if (shuttingDown) return;
      shuttingDown = true;
      const doTheRest = () => {
        upon(action(), () => finalize(originalIsError, originalError), (newError) => finalize(true, newError));
      };
      if (dest.state === "writable" && !writableStreamCloseQueuedOrInFlight(dest)) upon(waitForWritesToFinish(), doTheRest);
      else doTheRest();
    };
    const shutdown = (isError, error) => {
      if (shuttingDown) return;
      shuttingDown = true;
      if (dest.state === "writable" && !writableStreamCloseQueuedOrInFlight(dest)) {
        upon(waitForWritesToFinish(), () => finalize(isError, error));
      } else {
        finalize(isError, error);
      }
    };

    if (signal !== undefined) {
      const abortAlgorithm = () => {
        const error = signal.reason;
        const actions = [];
        if (!preventAbort) actions.push(() => (dest.state === "writable" ? writableStreamAbort(dest, error) : resolvedWith(undefined)));
        if (!preventCancel) actions.push(() => (source.state === "readable" ? readableStreamCancel(source, error) : resolvedWith(undefined)));
        shutdownWithAnAction(() => waitForAll(actions.map((a) => a())), true, error);
      };
      if (signal.aborted) {
        abortAlgorithm();
        return promise.promise;
      }
      removeAbort = onAbort(signal, abortAlgorithm);
    }

    const pipeStep = () => {
      if (shuttingDown) return resolvedWith(true);
      return transformPromise(writer.ready.promise, () => new OrigPromise((resolveRead, rejectRead) => {
        readableStreamDefaultReaderRead(reader, {
          chunk: (chunk) => {
            currentWrite = transformPromise(writableStreamDefaultWriterWrite(writer, chunk), undefined, noop);
            resolveRead(false);
          },
          close: () => resolveRead(true),
          error: rejectRead,
        });
      }));
    };
    const pipeLoop = () => new OrigPromise((resolveLoop, rejectLoop) => {
      const next = (done) => {
        if (done) resolveLoop();
        else upon(pipeStep(), next, rejectLoop);
      };
      next(false);
    });

    // Errors must be propagated forward
    if (source.state === "errored") {
      if (!preventAbort) shutdownWithAnAction(() => writableStreamAbort(dest, source.storedError), true, source.storedError);
      else shutdown(true, source.storedError);
    } else {
      upon(reader.closed.promise, undefined, (e) => {
        if (!preventAbort) shutdownWithAnAction(() => writableStreamAbort(dest, e), true, e);
        else shutdown(true, e);
      });
    }
    // Errors must be propagated backward
    if (dest.state === "errored") {
      if (!preventCancel) shutdownWithAnAction(() => readableStreamCancel(source, dest.storedError), true, dest.storedError);
      else shutdown(true, dest.storedError);
    } else {
      upon(writer.closed.promise, undefined, (e) => {
        if (!preventCancel) shutdownWithAnAction(() => readableStreamCancel(source, e), true, e);
        else shutdown(true, e);
      });
    }
    // Closing must be propagated forward
    if (source.state === "closed") {
      if (!preventClose) shutdownWithAnAction(() => writableStreamDefaultWriterCloseWithErrorPropagation(writer));
      else shutdown();
    } else {
      upon(reader.closed.promise, () => {
        if (!preventClose) shutdownWithAnAction(() => writableStreamDefaultWriterCloseWithErrorPropagation(writer));
        else shutdown();
      });
    }
    // Closing must be propagated backward
    if (writableStreamCloseQueuedOrInFlight(dest) || dest.state === "closed") {
      const destClosed = new TypeError("the destination writable stream closed before all the data could be piped to it");
      if (!preventCancel) shutdownWithAnAction(() => readableStreamCancel(source, destClosed), true, destClosed);
      else shutdown(true, destClosed);
    }
    setHandled(pipeLoop());
    return promise.promise;
  }
  // "Waiting for all" of WebIDL, with the original intrinsics.
  function waitForAll(promises) {
    const p = newPromise();
    let left = promises.length;
    if (left === 0) { resolvePromise(p, undefined); return p.promise; }
    for (const q of promises) {
      upon(q, () => { if (--left === 0) resolvePromise(p, undefined); }, (e) => rejectPromise(p, e));
    }
    return p.promise;
  }

  // ---- async iteration ----
  const iterators = new WeakMap();
  const iterRec = (o) => (isObject(o) ? iterators.get(o) : undefined);
  function newAsyncIterator(rec) {
    const it = Object.create(iteratorPrototype);
    iterators.set(it, rec);
    return it;
  }
  const iteratorPrototype = Object.create(AsyncIteratorPrototype);
  Object.defineProperties(iteratorPrototype, {
    next: { writable: true, enumerable: true, configurable: true, value: { next() {
      const it = iterRec(this);
      if (it === undefined) return rejectedWith(new TypeError("not a ReadableStream async iterator"));
      const nextSteps = () => {
        if (it.finished) return resolvedWith({ value: undefined, done: true });
        const p = newPromise();
        const reader = it.reader;
        readableStreamDefaultReaderRead(reader, {
          chunk: (chunk) => resolvePromise(p, chunk),
          close: () => { readableStreamDefaultReaderRelease(reader); resolvePromise(p, END); },
          error: (e) => { readableStreamDefaultReaderRelease(reader); rejectPromise(p, e); },
        });
        return transformPromise(p.promise, (v) => {
          it.ongoing = undefined;
          if (v === END) { it.finished = true; return { value: undefined, done: true }; }
          return { value: v, done: false };
        }, (e) => {
          it.ongoing = undefined;
          it.finished = true;
          throw e;
        });
      };
      it.ongoing = it.ongoing !== undefined ? transformPromise(it.ongoing, nextSteps, nextSteps) : nextSteps();
      return it.ongoing;
    } }.next },
    return: { writable: true, enumerable: true, configurable: true, value: { return(value) {
      const it = iterRec(this);
      if (it === undefined) return rejectedWith(new TypeError("not a ReadableStream async iterator"));
      const returnSteps = () => {
        if (it.finished) return resolvedWith({ value, done: true });
        it.finished = true;
        const reader = it.reader;
        if (reader.stream === undefined) return resolvedWith(undefined);
        if (!it.preventCancel) {
          const result = readableStreamCancel(reader.stream, value);
          readableStreamDefaultReaderRelease(reader);
          return result;
        }
        readableStreamDefaultReaderRelease(reader);
        return resolvedWith(undefined);
      };
      const p = it.ongoing !== undefined ? transformPromise(it.ongoing, returnSteps, returnSteps) : returnSteps();
      it.ongoing = p;
      return transformPromise(p, () => ({ value, done: true }));
    } }.return },
    [Symbol.toStringTag]: { value: "ReadableStream AsyncIterator", configurable: true },
  });
  const END = {};

  function readableStreamFromIterable(asyncIterable) {
    if (!isObject(asyncIterable)) throw new TypeError("ReadableStream.from expects an iterable or async iterable object");
    let method = asyncIterable === null || asyncIterable === undefined ? undefined : asyncIterable[Symbol.asyncIterator];
    let iterator, nextMethod;
    if (method === undefined || method === null) {
      const syncMethod = asyncIterable === null || asyncIterable === undefined ? undefined : asyncIterable[Symbol.iterator];
      if (syncMethod === undefined || syncMethod === null) throw new TypeError("ReadableStream.from expects an iterable or async iterable");
      if (typeof syncMethod !== "function") throw new TypeError("@@iterator is not callable");
      const syncIterator = syncMethod.call(asyncIterable);
      if (!isObject(syncIterator)) throw new TypeError("the iterator is not an object");
      const syncNext = syncIterator.next;
      // CreateAsyncFromSyncIterator
      iterator = {
        next() {
          let result;
          try { result = syncNext.call(syncIterator); } catch (e) { return rejectedWith(e); }
          if (!isObject(result)) return rejectedWith(new TypeError("the iterator result is not an object"));
          let done, value;
          try { done = Boolean(result.done); value = result.value; } catch (e) { return rejectedWith(e); }
          let vp;
          try { vp = resolvedWith(value); } catch (e) { return rejectedWith(e); }
          return transformPromise(vp, (v) => ({ value: v, done }));
        },
        return(v) {
          let ret;
          try { ret = syncIterator.return; } catch (e) { return rejectedWith(e); }
          if (ret === undefined || ret === null) return resolvedWith({ value: v, done: true });
          let result;
          try { result = ret.call(syncIterator, v); } catch (e) { return rejectedWith(e); }
          if (!isObject(result)) return rejectedWith(new TypeError("the iterator result is not an object"));
          return transformPromise(resolvedWith(result.value), (x) => ({ value: x, done: Boolean(result.done) }));
        },
      };
      nextMethod = iterator.next;
    } else {
      if (typeof method !== "function") throw new TypeError("@@asyncIterator is not callable");
      iterator = method.call(asyncIterable);
      if (!isObject(iterator)) throw new TypeError("the async iterator is not an object");
      nextMethod = iterator.next;
    }
    let stream;
    const pullAlgorithm = () => {
      let nextResult;
      try { nextResult = nextMethod.call(iterator); } catch (e) { return rejectedWith(e); }
      return transformPromise(resolvedWith(nextResult), (r) => {
        if (!isObject(r)) throw new TypeError("the iterator result is not an object");
        if (r.done) readableStreamDefaultControllerClose(stream.controller);
        else readableStreamDefaultControllerEnqueue(stream.controller, r.value);
      });
    };
    const cancelAlgorithm = (reason) => {
      let returnMethod;
      try {
        returnMethod = iterator.return;
      } catch (e) {
        return rejectedWith(e);
      }
      if (returnMethod === undefined || returnMethod === null) return resolvedWith(undefined);
      if (typeof returnMethod !== "function") return rejectedWith(new TypeError("the iterator's return is not callable"));
      let returnResult;
      try { returnResult = returnMethod.call(iterator, reason); } catch (e) { return rejectedWith(e); }
      return transformPromise(resolvedWith(returnResult), (r) => {
        if (!isObject(r)) throw new TypeError("the iterator's return() result is not an object");
      });
    };
    stream = createReadableStream(() => undefined, pullAlgorithm, cancelAlgorithm, 0);
    return stream;
  }

