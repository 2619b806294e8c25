"""(being emptied: its rooms move to dft/ and graph/)"""
