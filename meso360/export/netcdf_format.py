"""The NetCDF-4 export: one CF-1.8 trajectory (the vehicle's track, dimension obs), with Debian's python3-netcdf4."""

import datetime as dt

from meso360 import __version__
from meso360.datafile import number_or_none
from meso360.errors import Meso360Error
from meso360.export.qc_flags import FLAG_VARIABLES
from meso360.export.timerange import utc_text
from meso360.export.variables import ALTITUDE, LATITUDE, LONGITUDE, MEASUREMENTS, TIME_UNITS

FILL_VALUE = -9999.0
# Variable names in the file: the coordinates get their usual short names, the measurements keep the column's.
COORDINATE_NAMES = {LATITUDE: "lat", LONGITUDE: "lon", ALTITUDE: "alt"}
COORDINATES = "time lat lon alt"


def _libraries():
    """Return (netCDF4, numpy). Raise Meso360Error saying what to install when python3-netcdf4 is missing."""
    try:
        import netCDF4  # heavy (numpy), and only this format needs it
        import numpy
    except ImportError as error:
        raise Meso360Error("NetCDF export needs python3-netcdf4: sudo apt install python3-netcdf4") from error
    return netCDF4, numpy


def global_attributes(info, first_seconds, last_seconds):
    """Return the file's global attributes: CF and ACDD conventions, the vehicle, the range, the software."""
    vehicle = info.vehicle
    now = dt.datetime.now(dt.UTC)
    return {
        "Conventions": "CF-1.8",
        "featureType": "trajectory",
        "title": f"NSSL Mobile Mesonet {vehicle}: 1 Hz surface observations",
        "institution": info.institution,
        "source": f"Campbell Scientific datalogger on Mobile Mesonet vehicle {vehicle}, collected by meso360",
        "platform": f"Mobile Mesonet vehicle {vehicle}",
        "platform_type": "land vehicle",
        "vehicle": vehicle,
        "history": f"{utc_text(now)} {info.command}",
        "software": f"meso360 {__version__}",
        "date_created": utc_text(now),
        "time_coverage_start": utc_text(dt.datetime.fromtimestamp(first_seconds, dt.UTC)),
        "time_coverage_end": utc_text(dt.datetime.fromtimestamp(last_seconds, dt.UTC)),
        "comment": f"Rows of the daily files from {utc_text(info.time_range.start)} to {utc_text(info.time_range.end)}"
        " (GPS time); rows without a valid GPS time are not included.",
    }


def _create_coordinates(dataset, numpy, netCDF4, vehicle):
    name = numpy.array([vehicle], dtype=f"S{max(len(vehicle.encode()), 1)}")
    dataset.createDimension("obs", None)
    dataset.createDimension("name_strlen", name.dtype.itemsize)
    trajectory = dataset.createVariable("trajectory", "S1", ("name_strlen",))
    trajectory.setncatts({"cf_role": "trajectory_id", "long_name": "vehicle name"})
    trajectory[:] = netCDF4.stringtochar(name)[0]
    time = dataset.createVariable("time", "f8", ("obs",))
    time.setncatts(
        {"standard_name": "time", "long_name": "GPS time", "units": TIME_UNITS, "calendar": "standard", "axis": "T"}
    )
    axes = {LATITUDE: "Y", LONGITUDE: "X", ALTITUDE: "Z"}
    for variable, name_in_file in COORDINATE_NAMES.items():
        created = _create_data_variable(dataset, name_in_file, variable)
        created.axis = axes[variable]
    dataset["alt"].positive = "up"


def _create_data_variable(dataset, name_in_file, variable):
    created = dataset.createVariable(name_in_file, "f8", ("obs",), fill_value=FILL_VALUE)
    if variable.standard_name:
        created.standard_name = variable.standard_name
    created.setncatts({"long_name": variable.long_name, "units": variable.units})
    return created


def _create_flag_variables(dataset, numpy):
    """Create the CF flag variables of the QC (byte, flag_values and flag_meanings), each named in the
    ancillary_variables of the variables it flags."""
    for variable in FLAG_VARIABLES:
        created = dataset.createVariable(variable.name, "i1", ("obs",))
        if variable.standard_name:
            created.standard_name = variable.standard_name
        created.setncatts(
            {
                "long_name": variable.long_name,
                "flag_values": numpy.array(variable.values, "i1"),
                "flag_meanings": " ".join(variable.meanings),
                "coordinates": COORDINATES,
            }
        )
        for flagged in variable.flags:
            flagged_name = "alt" if flagged == "gps_alt" else flagged
            dataset[flagged_name].ancillary_variables = variable.name


def _append_flags(dataset, numpy, chunk, start, stop):
    flags = numpy.array(chunk.qc, "i1").reshape(len(chunk.qc), len(FLAG_VARIABLES))
    for column, variable in enumerate(FLAG_VARIABLES):
        dataset[variable.name][start:stop] = flags[:, column]


def _column_array(numpy, rows, index):
    values = (number_or_none(row[index], infinity_is_missing=True) for row in rows)
    array = numpy.fromiter((numpy.nan if value is None else value for value in values), "f8", len(rows))
    return numpy.ma.masked_invalid(array)


def _append(dataset, numpy, chunk):
    rows = chunk.rows
    start = len(dataset.dimensions["obs"])
    stop = start + len(rows)
    dataset["time"][start:stop] = numpy.array(chunk.seconds, "f8")
    for variable, name_in_file in (*COORDINATE_NAMES.items(), *((m, m.column) for m in MEASUREMENTS)):
        dataset[name_in_file][start:stop] = _column_array(numpy, rows, variable.index)
    if chunk.qc is not None:
        _append_flags(dataset, numpy, chunk, start, stop)


def write_netcdf(path, chunks, info):
    """Write the chunks as a CF-1.8 trajectory NetCDF-4 file at `path`; return the row count.

    Raise Meso360Error when python3-netcdf4 is not installed.
    """
    netCDF4, numpy = _libraries()
    with netCDF4.Dataset(path, "w", format="NETCDF4") as dataset:
        _create_coordinates(dataset, numpy, netCDF4, info.vehicle)
        for variable in MEASUREMENTS:
            _create_data_variable(dataset, variable.column, variable).coordinates = COORDINATES
        if info.qc:
            _create_flag_variables(dataset, numpy)
        first = last = None
        for chunk in chunks:
            _append(dataset, numpy, chunk)
            first = min(chunk.seconds) if first is None else min(first, *chunk.seconds)
            last = max(chunk.seconds) if last is None else max(last, *chunk.seconds)
        count = len(dataset.dimensions["obs"])
        if count:
            dataset.setncatts(global_attributes(info, first, last))
    return count
