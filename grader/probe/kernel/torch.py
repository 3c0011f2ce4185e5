# The PyTorch adapter: tensors, gradients, inference mode, seeding, and the hooks that watch a
# model's own forward pass (register_forward_hook / register_forward_pre_hook).


def torch_adapter():
    """The PyTorch adapter, with torch imported into the probe's globals (only for a torch rubric)."""
    global torch
    import torch

    return Torch


class Torch:
    name = "torch"

    @staticmethod
    def seed(value):
        torch.manual_seed(value)

    @staticmethod
    def tensor(array, grad=False):
        return torch.tensor(array, dtype=torch.float32, requires_grad=grad)

    @staticmethod
    def is_tensor(value):
        return isinstance(value, torch.Tensor)

    @staticmethod
    def to_numpy(value):
        if isinstance(value, torch.Tensor):
            return value.detach().cpu().double().numpy()
        return np.asarray(value, dtype=np.float64)

    @staticmethod
    def call_with_grad(function, args, kwargs, watched, pick):
        output = pick(function(*args, **kwargs))
        grads = {}
        if isinstance(output, torch.Tensor) and watched and output.requires_grad:
            output.sum().backward()
            grads = {name: t.grad for name, t in watched.items() if t.grad is not None}
        return output, grads

    @staticmethod
    def concatenate(tensors):
        return torch.cat(tensors, dim=-1)

    @staticmethod
    def labels(array):
        """A conditional model's labels: class indices (int64) or one-hot rows (float32)."""
        return torch.as_tensor(array, dtype=torch.long if array.dtype.kind in "iu" else torch.float32)

    @staticmethod
    def call_training(function, x):
        return function(x)

    @staticmethod
    def call_step(step, batch):
        return step(batch)

    @staticmethod
    def is_concrete(loss):
        """A loss whose value can be read: a tensor of one element."""
        return isinstance(loss, torch.Tensor) and loss.numel() == 1

    @staticmethod
    def on_loss(callback):
        """Call ``callback(loss, run)`` whenever a loss is differentiated: ``torch.autograd.backward``,
        which ``Tensor.backward`` calls too; ``run`` tells one model's training from another's
        (the identity of the first parameter the loss's graph reaches). Returns a function that stops it."""
        original = torch.autograd.backward

        def backward(tensors, *args, **kwargs):
            loss = tensors if isinstance(tensors, torch.Tensor) else next(iter(tensors), None)
            callback(loss, Torch.first_parameter(loss))
            return original(tensors, *args, **kwargs)

        torch.autograd.backward = backward
        return lambda: setattr(torch.autograd, "backward", original)

    @staticmethod
    def parameter_ids(part):
        """The identities of the parameters of ``part`` (a module, or a bound method of one)."""
        owner = getattr(part, "__self__", part)
        return {id(parameter) for parameter in owner.parameters()} if isinstance(owner, torch.nn.Module) else set()

    @staticmethod
    def first_parameter(loss):
        """The identity of the first leaf tensor (a parameter) ``loss``'s graph reaches, depth first:
        the same at every step of one model's training, another for another model; 0 for none."""
        stack, seen = [getattr(loss, "grad_fn", None)], set()
        while stack:
            node = stack.pop()
            if node is None or node in seen:
                continue
            seen.add(node)
            if getattr(node, "variable", None) is not None:
                return id(node.variable)
            stack.extend(following for following, _ in reversed(node.next_functions))
        return 0

    @staticmethod
    def observable_training():
        """Nothing to do: every PyTorch training step runs eagerly, its loss a concrete tensor."""

    @staticmethod
    @contextlib.contextmanager
    def recording(recorder):
        stop = Torch.on_loss(recorder.on_loss)
        try:
            yield
        finally:
            stop()

    @staticmethod
    @contextlib.contextmanager
    def restored(owner):
        """The module's parameters and buffers as they were, after the block."""
        saved = {name: value.detach().clone() for name, value in owner.state_dict().items()}
        try:
            yield
        finally:
            owner.load_state_dict(saved)

    @staticmethod
    def is_model(value):
        return isinstance(value, torch.nn.Module)

    @staticmethod
    @contextlib.contextmanager
    def inference(objects):
        """eval() and no_grad() for the duration; each module's training flag restored after
        (self-check runs this in the student's own kernel)."""
        with Torch.modes(objects, training=False), torch.no_grad():
            yield

    @staticmethod
    @contextlib.contextmanager
    def modes(objects, training):
        """Each module owning one of ``objects`` in train (or eval) mode for the duration; every
        submodule's flag and every buffer (batch-norm statistics) as they were after."""
        owners = [o for o in (getattr(obj, "__self__", obj) for obj in objects) if isinstance(o, torch.nn.Module)]
        flags = [(module, module.training) for owner in owners for module in owner.modules()]
        buffers = [(b, b.detach().clone()) for owner in owners for b in owner.buffers()]
        for owner in owners:
            owner.train(training)
        try:
            yield
        finally:
            for module, flag in flags:
                module.training = flag
            with torch.no_grad():
                for buffer, saved in buffers:
                    buffer.copy_(saved)

    @staticmethod
    def call_model(function, x):
        return function(x)

    @staticmethod
    def watch(target, take, keep):
        """Call ``keep(value)`` with what ``target`` (a module, else a callable attribute)
        returns (``take`` "output") or receives (``take`` "input": its positional arguments);
        returns a function that stops watching."""
        if isinstance(target, torch.nn.Module):
            def hook(module, args, output=None):  # returns None: the pass goes on unchanged
                keep(output if take == "output" else list(args))

            register = target.register_forward_hook if take == "output" else target.register_forward_pre_hook
            return register(hook).remove
        return wrap_attribute(target, take, keep)

    @staticmethod
    def taped():
        """A context in which what is computed can be differentiated afterwards (autograd
        records everything: no tape), with gradients on even under an outer no_grad."""
        return torch.enable_grad()

    @staticmethod
    def gradients(tape, total, tensors):
        """d sum(total) / d each of ``tensors`` (None where it does not depend on it)."""
        return torch.autograd.grad(total.sum(), tensors, allow_unused=True, retain_graph=True)

    @staticmethod
    def fit_latents(decode, target, width, request):
        """Adam on BCE(decode(z), target) summed, w.r.t. z only (the model's own gradients are
        never accumulated); z = softplus(w) on a positive support."""
        generator = torch.Generator().manual_seed(request["seed"])
        w = (0.01 * torch.randn(len(target), width, generator=generator)).requires_grad_()
        x = torch.tensor(target, dtype=torch.float32)
        optimiser = torch.optim.Adam([w], lr=request["lr"])
        with torch.enable_grad():
            for _ in range(request["steps"]):
                z = torch.nn.functional.softplus(w) if request["positive"] else w
                out = select(decode(z), request["model"]["decode"]["output"]).reshape(x.shape)
                if request["logits"]:
                    loss = torch.nn.functional.binary_cross_entropy_with_logits(out, x, reduction="sum")
                else:
                    loss = torch.nn.functional.binary_cross_entropy(out.clamp(1e-6, 1 - 1e-6), x, reduction="sum")
                (w.grad,) = torch.autograd.grad(loss, [w])
                optimiser.step()
        return (torch.nn.functional.softplus(w) if request["positive"] else w).detach().numpy()

    @staticmethod
    def load_weights(model, path):
        """Load a ``state_dict`` (``torch.save(model.state_dict(), path)``; a checkpoint dict holding
        one under ``state_dict``/``model_state_dict``/``model`` too) into ``model``, refusing one
        whose parameter names or shapes differ from the model's, each named. ``weights_only``: the
        file's pickle may hold tensors and containers only, never code."""
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"it is a {type(model).__name__}, not a torch.nn.Module")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise ValueError(f"the file is not a state_dict saved with torch.save(model.state_dict(), ...) "
                             f"({type(exc).__name__}: {str(exc).splitlines()[0][:160]})") from None
        for key in ("state_dict", "model_state_dict", "model"):
            if isinstance(state, dict) and isinstance(state.get(key), dict):
                state = state[key]
        if not isinstance(state, dict):
            raise ValueError(f"the file holds a {type(state).__name__}, not a state_dict")
        mismatches(dict(model.state_dict()), state, lambda value: tuple(value.shape))
        model.load_state_dict(state)
