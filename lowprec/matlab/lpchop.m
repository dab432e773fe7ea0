function [c,options] = lpchop(x,options)
%LPCHOP    Round matrix elements to lower precision (lowprec's CHOP).
%   LPCHOP is a drop-in replacement for Nick Higham's CHOP
%   (github.com/higham/chop): same options, same persistence of the options
%   between calls, same results bit for bit (its quirks included), computed
%   by the Python package lowprec (lowprec.matlab.chop) through MATLAB's
%   Python interface.  Run LPCHOP_SETUP once to point MATLAB at the Python
%   that has lowprec installed.
%
%   LPCHOP(X,options) is the matrix obtained by rounding the elements of
%   the real array X to a lower precision arithmetic with one of several
%   forms of rounding.  X should be single precision or double precision
%   and the output will have the same type.  The structure options
%   controls various aspects of the rounding.
%   1. The arithmetic format is specified by options.format, which is one of
%       'q43', 'fp8-e4m3'       - NVIDIA quarter precision (4 exponent bits,
%                                 3 significand (mantissa) bits),
%       'q52', 'fp8-e5m2'       - NVIDIA quarter precision (5 exponent bits,
%                                 2 significand bits),
%       'b', 'bfloat16'         - bfloat16,
%       'h', 'half', 'fp16'     - IEEE half precision (the default),
%       's', 'single', 'fp32'   - IEEE single precision,
%       'd', 'double', 'fp64'   - IEEE double precision,
%       'c', 'custom'           - custom format.
%      The custom (base 2) format is defined by options.params, which is a
%      2-vector [t,emax] where t is the number of bits in the significand
%      (including the hidden bit) and emax is the maximum value of the
%      exponent.  The minimum exponent is taken to be emin = 1 - emax.
%      The values of t and emax are built-in for the other formats and are
%      returned in options.params.  lowprec's other IEEE-style format names
%      ('tf32', 'e5m2', 'e6m9', ...) are accepted too (CHOP rejects them).
%   2. options.subnormal specifies whether subnormal numbers are supported
%      (if they are not, subnormals are flushed to zero):
%        0 = do not support subnormals (the default for bfloat16),
%        1 = support subnormals (the default for the other formats).
%   3. The form of rounding is specified by options.round:
%       1: round to nearest using round to even last bit to break ties
%          (the default);
%       2: round towards plus infinity (round up);
%       3: round towards minus infinity (round down);
%       4: round towards zero;
%       5: stochastic rounding - round to the next larger or next smaller
%          f.p. (floating-point) number with probability proportional to
%          1 minus the distance to those f.p. numbers;
%       6: stochastic rounding - round to the next larger or next smaller
%          f.p. number with equal probability.
%      For stochastic rounding, exact f.p. numbers are not changed.
%   4. If options.flip = 1 (default 0) then each element of the rounded
%      result has, with probability options.p (default 0.5), a randomly
%      chosen bit in its significand flipped.  This option is useful for
%      simulating soft errors.
%   5. If options.explim = 0 (default 1) then emax (the maximal
%      exponent) for the specified arithmetic is ignored, so overflow,
%      underflow, or subnormal numbers will be produced only if necessary
%      for the data type of X.  This option is useful for exploring
%      low precisions independent of range limitations.
%   6. If options.randfunc is supplied, then in stochastic rounding (modes
%      5 and 6) the random numbers used for rounding will be generated
%      using that function. It should be a function that has a single argument
%      for the number of random numbers to generate and returns a vector of
%      the random numbers. By default, the MATLAB rand function is used.
%      All random numbers (randfunc, and rand/randi for the bit flips) are
%      drawn here, in MATLAB, in the order CHOP draws them, so LPCHOP gives
%      CHOP's result for the same state of MATLAB's random number generator.
%
%   On the first call: if options is omitted or only partially specified
%   the defaults stated above are used.
%   On subsequent calls: if options is omitted or empty then the values
%   used in the previous call are re-used; for any missing fields the
%   default is used.
%   The options can also be set with LPCHOP([],options).
%   The options structure is stored internally (in lowprec, and randfunc in
%   a persistent variable here) and can be obtained with [~,options] = LPCHOP.
%   CLEAR LPCHOP resets it, as CLEAR CHOP does for CHOP.
%
%   See also LPCHOP_SETUP, CHOP.

persistent randfunc
lp = py.importlib.import_module('lowprec.matlab');
if isempty(randfunc)   % First call, or after CLEAR LPCHOP: start afresh.
    lp.clear();
    randfunc = @(n) rand(n, 1);
end
if nargin >= 1 && ~isreal(x), error('Chop requires a real input array.'), end

if nargin == 2 && ~isempty(options)
    if isfield(options,'randfunc') && ~isempty(options.randfunc)
        randfunc = options.randfunc;
    else
        randfunc = @(n) rand(n, 1);
    end
    popts = struct_to_dict(options);
else
    popts = py.None;
end

wassparse = nargin >= 1 && issparse(x);
if wassparse, x = full(x); end
if nargin == 0
    xin = py.None; shape = py.None; xclass = 'double';
else
    xclass = class(x);
    shape = double(size(x));
    if isa(x,'double') || isa(x,'single')
        xin = x(:).';     % A flat column-major buffer; shape restores the array.
    else
        xin = py.None;    % lowprec processes the options, then fails as CHOP does.
    end
end

r = lp.mex(xin, popts, shape, py.None, xclass);
if strcmp(char(r.get('kind')), 'draws')
    r = lp.mex(xin, py.None, shape, draw(r, randfunc), xclass);
end

if nargin == 0 || isempty(x)
    c = [];
else
    pc = r.get('c');
    if isa(x,'single'), c = single(pc); else, c = double(pc); end
    c = reshape(c, size(x));
    if wassparse, c = sparse(c); end
end
if nargout == 2, options = dict_to_struct(r.get('options'), randfunc); end
end

%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%
function d = draw(r, randfunc)
%DRAW  The random numbers of one CHOP call, drawn in CHOP's order: for the
%   normal subset (k_norm) and then, if it is not empty, the subnormal subset
%   (k_sub): randfunc(n) for stochastic rounding, rand(m,1) and
%   randi(t-1,k,1) for the bit flips.
counts = double(r.get('counts'));   % [n1 m1 n2 m2]
rmode = double(r.get('round'));
dosr = rmode == 5 || rmode == 6;
doflip = double(r.get('flip')) ~= 0;
p = double(r.get('p'));
t = double(r.get('t'));
d = py.dict();
for s = 1:2
    n = counts(2*s-1); m = counts(2*s);
    if s == 2 && m == 0, break, end
    if dosr && n > 0
        v = double(randfunc(n));
        put(d, sprintf('sr%d', s), v(:).');
    end
    if doflip
        u = rand(m, 1);
        put(d, sprintf('u%d', s), u(:).');
        k = nnz(u <= p);
        if k > 0
            b = randi(t-1, k, 1);
            put(d, sprintf('b%d', s), double(b(:).'));
        end
    end
end
end

function put(d, name, value)
update(d, py.dict(pyargs(name, value)));
end

function d = struct_to_dict(options)
%STRUCT_TO_DICT  The options struct as a Python dict (randfunc stays here).
if ~isstruct(options)
    error('lpchop:options', 'options must be a structure, got a %s.', class(options));
end
d = py.dict();
names = fieldnames(options);
for i = 1:numel(names)
    name = names{i};
    if strcmp(name, 'randfunc'), continue, end
    v = options.(name);
    if isempty(v)
        v = py.None;
    elseif isnumeric(v) || islogical(v)
        v = double(v(:).');
    end
    put(d, name, v);
end
end

function o = dict_to_struct(po, randfunc)
%DICT_TO_STRUCT  lowprec's options in force as CHOP's options struct.
o = struct();
names = {'format', 'subnormal', 'round', 'flip', 'p', 'explim'};
for i = 1:numel(names)
    v = po.get(names{i});
    if isa(v, 'py.str'), v = char(v); elseif ~isa(v, 'py.NoneType'), v = double(v); end
    o.(names{i}) = v;
end
o.randfunc = randfunc;
v = po.get('params');
if ~isa(v, 'py.NoneType'), o.params = double(v); end
end
