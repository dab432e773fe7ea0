function lpchop_setup(python, mode, save)
%LPCHOP_SETUP   Point MATLAB at the Python that has lowprec, and put LPCHOP on the path.
%   LPCHOP_SETUP(PYTHON) selects the Python executable PYTHON (the full path of
%   the python that has lowprec installed, e.g. '/home/me/venv/bin/python' or
%   'C:\venv\Scripts\python.exe') with PYENV, imports lowprec.matlab and adds
%   the folder of LPCHOP (inside the lowprec package) to the MATLAB path.
%   Call it in a fresh MATLAB session: MATLAB cannot switch to another Python
%   once one is loaded.
%
%   LPCHOP_SETUP with no argument (or PYTHON = '') keeps the Python MATLAB
%   already uses.
%
%   LPCHOP_SETUP(PYTHON, MODE) also sets PYENV's ExecutionMode, 'InProcess'
%   (the default, fastest) or 'OutOfProcess' (use it if MATLAB and numba's
%   libraries clash, e.g. a crash on the first call).
%
%   LPCHOP_SETUP(PYTHON, MODE, true) saves the path (SAVEPATH) so that LPCHOP
%   is found in later sessions; PYENV's choice persists by itself.
%
%   Example:
%      lpchop_setup('/home/me/venv/bin/python')
%      opts.format = 'h'; opts.round = 1;
%      c = lpchop(pi, opts)
%
%   See also LPCHOP, PYENV.

if nargin < 1, python = ''; end
if nargin < 2 || isempty(mode), mode = ''; end
if nargin < 3, save = false; end

pe = pyenv;
if ~isempty(python)
    if pe.Status == "Loaded" && ~strcmp(char(pe.Executable), char(python))
        error('lpchop_setup:loaded', ...
              ['MATLAB has already loaded Python %s. Restart MATLAB and call ' ...
               'lpchop_setup before any py.* call.'], char(pe.Executable));
    end
    if pe.Status ~= "Loaded"
        if isempty(mode)
            pyenv('Version', python);
        else
            pyenv('Version', python, 'ExecutionMode', mode);
        end
    end
elseif ~isempty(mode) && pe.Status ~= "Loaded"
    pyenv('ExecutionMode', mode);
end

try
    lp = py.importlib.import_module('lowprec.matlab');
catch err
    error('lpchop_setup:import', ...
          ['Cannot import lowprec.matlab from Python %s (%s).\nInstall it there ' ...
           '(python -m pip install lowprec) or pass the right python to lpchop_setup.'], ...
          char(pyenv().Executable), err.message);
end
folder = char(lp.mfiles_dir());
addpath(folder);
if save, savepath; end
version = char(py.getattr(py.importlib.import_module('lowprec'), '__version__'));
fprintf('lpchop is ready: lowprec %s (%s), Python %s\n', version, folder, ...
        char(pyenv().Executable));
end
